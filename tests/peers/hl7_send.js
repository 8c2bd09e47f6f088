// Send one HL7 v2 message (ER7 text, segments on lines) over MLLP as an interface engine
// would (node-hl7-client) and print the acknowledgement's MSA-1 and MSA-3.
// Usage: node hl7_send.js PORT FILE
// With HL7_TLS_DIR set, over TLS: the server's certificate is checked against ca.pem, and
// cert.pem (key.pem) is shown unless HL7_TLS_NO_CERT is set. HL7_ACK_WAIT_MS: how long to wait
// for the acknowledgement (15 s).
const fs = require('fs')
const path = require('path')
const { Client, Message } = require('node-hl7-client')

const port = Number(process.argv[2])
const text = fs.readFileSync(process.argv[3], 'utf8').trim().split(/\r?\n/).join('\r')
const message = new Message({ text })
const tlsDir = process.env.HL7_TLS_DIR
const read = (name) => fs.readFileSync(path.join(tlsDir, name))
const tls = !tlsDir
  ? undefined
  : process.env.HL7_TLS_NO_CERT
    ? { ca: read('ca.pem') }
    : { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') }
const client = new Client({ host: '127.0.0.1', version: '2.5', tls })
const wait = Number(process.env.HL7_ACK_WAIT_MS || 15000)
const timer = setTimeout(() => { console.log('NO-ACK'); process.exit(2) }, wait)
const conn = client.createConnection({ port, maxAttempts: 1 }, async (res) => {
  const ack = res.getMessage()
  console.log(`${ack.get('MSA.1').toString()}|${ack.get('MSA.3').toString()}`)
  clearTimeout(timer)
  await conn.close()
  process.exit(0)
})
conn.sendMessage(message)
