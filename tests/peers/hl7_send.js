// Send one HL7 v2 message (ER7 text, segments on lines) over MLLP as an interface engine
// would (node-hl7-client) and print the acknowledgement's MSA-1 and MSA-3.
// Usage: node hl7_send.js PORT FILE
const fs = require('fs')
const { Client, Message } = require('node-hl7-client')

const port = Number(process.argv[2])
const text = fs.readFileSync(process.argv[3], 'utf8').trim().split(/\r?\n/).join('\r')
const message = new Message({ text })
const client = new Client({ host: '127.0.0.1', version: '2.5' })
const timer = setTimeout(() => { console.log('NO-ACK'); process.exit(2) }, 15000)
const conn = client.createConnection({ port, maxAttempts: 1 }, async (res) => {
  const ack = res.getMessage()
  console.log(`${ack.get('MSA.1').toString()}|${ack.get('MSA.3').toString()}`)
  clearTimeout(timer)
  await conn.close()
  process.exit(0)
})
conn.sendMessage(message)
