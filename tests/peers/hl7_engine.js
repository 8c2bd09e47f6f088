// An HL7 v2 interface engine for clinicline's tests: an independent MLLP implementation
// (node-hl7-server) that records every message it receives as a JSON line and answers with the
// acknowledgement the test asks for in <dir>/mode: AA (accept), AE (error: retry) or AR (reject).
// Usage: node hl7_engine.js PORT DIR
// With HL7_TLS_DIR set, MLLP over TLS: the engine shows cert.pem (key.pem) and accepts only
// a client showing a certificate signed by ca.pem.
const fs = require('fs')
const path = require('path')
const { Server } = require('node-hl7-server')

const port = Number(process.argv[2])
const dir = process.argv[3]
const field = (msg, at) => {
  try { return msg.get(at).toString() } catch (e) { return '' }
}

const tlsDir = process.env.HL7_TLS_DIR
const tls = tlsDir
  ? {
      key: fs.readFileSync(path.join(tlsDir, 'key.pem')),
      cert: fs.readFileSync(path.join(tlsDir, 'cert.pem')),
      ca: fs.readFileSync(path.join(tlsDir, 'ca.pem')),
      requestCert: true
    }
  : undefined
const server = new Server({ bindAddress: '127.0.0.1', tls })
const inbound = server.createInbound({ port }, async (req, res) => {
  const msg = req.getMessage()
  const modeFile = path.join(dir, 'mode')
  const mode = fs.existsSync(modeFile) ? fs.readFileSync(modeFile, 'utf8').trim() : 'AA'
  const seen = {
    type: field(msg, 'MSH.9.1') + '^' + field(msg, 'MSH.9.2'),
    control: field(msg, 'MSH.10'),
    placer: field(msg, 'SCH.1.1'),
    status: field(msg, 'SCH.25'),
    start: field(msg, 'SCH.11.4'),
    patient: field(msg, 'PID.3.1'),
    provider: field(msg, 'AIP.3.1'),
    answered: mode
  }
  fs.appendFileSync(path.join(dir, 'received.jsonl'), JSON.stringify(seen) + '\n')
  await res.sendResponse(mode)
})
inbound.on('listen', () => console.log('listening'))
process.on('SIGTERM', async () => { await inbound.close(); process.exit(0) })
