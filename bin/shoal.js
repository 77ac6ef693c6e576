#!/usr/bin/env node
// The `shoal` binary: runs the compiled CLI (npm install builds it through the `prepare` script).
import { main } from '../dist/src/cli/main.js'

main(process.argv).then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`shoal: ${err?.stack ?? err}\n`)
  process.exitCode = 1
})
