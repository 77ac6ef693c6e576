/**
 * The `shoal` command line: one binary for running a network (up, coordinator, node) and for using it
 * (mb, rb, put, get, ls, rm, status).
 */
import { Command, CommanderError, Option } from 'commander'
import * as objects from './objects.js'
import { runCoordinator, runNode } from './servers.js'
import { runUp } from './up.js'
import { risk } from './risk.js'
import { drill, DRILL_DEFAULTS } from './drill.js'
import { DEFAULT_DIR } from './network.js'

const HELP_FOOTER = `
A first session:
  $ shoal up                           # coordinator + 9 nodes over 3 providers x 3 regions, in ./.shoal
  $ shoal mb demo                      # (another terminal) a bucket
  $ shoal put ./big.iso demo/big.iso   # encrypted, erasure-coded 4+2, spread so any one provider can fail
  $ shoal ls demo/
  $ shoal get demo/big.iso ./copy.iso
  $ shoal locate demo/big.iso          # which node, provider and region holds each piece
  $ shoal status                       # nodes, liveness, pieces per provider and region

Every command finds the network through --dir (default ./.shoal), --coordinator URL or SHOAL_COORDINATOR.
Add --json to any command for machine-readable output.`

/** Durability timers, shared by `up` (local defaults) and `coordinator` (production defaults). */
function durabilityOptions (cmd: Command, local: boolean): Command {
  const d = (localValue: string, production: string): string => local ? ` (default ${localValue})` : ` (default ${production})`
  return cmd
    .option('--audit-interval <duration>', 'time between audit rounds; 0 = off' + d('2s', '30s'))
    .option('--repair-interval <duration>', 'time between repair checker passes; 0 = off' + d('5s', '1m'))
    .option('--repair-grace <duration>', 'how long a node may be offline before its pieces are rebuilt elsewhere' + d('30s', '30m'))
    .option('--repair-bandwidth <size>', 'bytes per second repair may move (0 = unlimited)' + d('0', '0'))
    .option('--gc-interval <duration>', 'time between garbage collection passes; 0 = off' + d('30s', '10m'))
    .option('--gc-grace <duration>', 'age below which an unreferenced piece is kept (must exceed the longest segment write)' + d('2m', '1h'))
}

function program (setCode: (code: number) => void): Command {
  const act = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => async (...args: A): Promise<void> => { setCode(await fn(...args)) }
  const p = new Command('shoal')
    .description('Shoal: S3-style storage spread over many providers so that no one provider, region or operator can take it down.')
    .option('--dir <dir>', 'network folder (holds network.json)', DEFAULT_DIR)
    .option('--coordinator <url>', 'coordinator URL (overrides --dir; or set SHOAL_COORDINATOR)')
    .option('--json', 'machine-readable JSON output')
    .addHelpText('after', HELP_FOOTER)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
  const g = (cmd: Command): objects.GlobalOptions => cmd.optsWithGlobals()

  durabilityOptions(p.command('up'), true).description('run a local network: a coordinator and N nodes as separate processes, until Ctrl-C')
    .option('--nodes <n>', 'number of node agents', '9')
    .option('--port <port>', 'coordinator port (nodes use port+31…; 0 = any free ports)', '7070')
    .option('--capacity <size>', 'capacity each node offers', '10GiB')
    .option('--segment-size <size>', 'segment size of new objects', '64MiB')
    .option('--s3-port <port>', 'S3 endpoint port (default 9000, or any free port with --port 0)')
    .action(act(async (_o, cmd: Command) => { const o = cmd.optsWithGlobals(); return await runUp({ ...o, dir: o.dir, nodes: o.nodes, port: o.port, capacity: o.capacity, segmentSize: o.segmentSize, s3Port: o.s3Port, json: o.json }) }))

  durabilityOptions(p.command('coordinator'), false).description('run a coordinator (registry, placement, metadata, order limits, gateway, API)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'API port (0 = any free port)', '7070')
    .option('--metadata <url>', 'metadata store: sqlite:PATH or postgres://… (default: SQLite in --dir)')
    .option('--segment-size <size>', 'segment size of new objects', '64MiB')
    .option('--s3-port <port>', 'S3 endpoint port (0 = any free port, off = none)', '9000')
    .addOption(new Option('--exit-with-parent <pid>').hideHelp())
    .action(act(async (_o, cmd: Command) => await runCoordinator(cmd.optsWithGlobals())))

  p.command('node').description('run a node agent that stores pieces for a coordinator (give its URL with --coordinator); `shoal node exit NODE` drains one')
    .argument('[action]', '"exit" to drain a node gracefully: its pieces move elsewhere first, then it leaves')
    .argument('[node]', 'with exit: node id (or a unique prefix)')
    .option('--coordinator-key <key>', "coordinator's public key (default: fetched and pinned on first start)")
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'piece API port (0 = any free port)', '0')
    .option('--advertise-url <url>', 'URL gateways use to reach this node')
    .option('--provider <name>', 'who provides the machine: aws, gcp, hetzner, as<ASN> for a home ISP, bare-metal:<name>… (required)')
    .option('--region <name>', 'region, e.g. us-east-1 (required)')
    .option('--operator <name>', 'who runs this node (required)')
    .option('--country <cc>', 'ISO country code', '')
    .option('--capacity <size>', 'space offered for pieces', '10GiB')
    .option('--wait', 'with exit: wait until every piece has moved')
    .option('--timeout <duration>', 'with exit --wait: give up waiting after this long', '10m')
    .addOption(new Option('--exit-with-parent <pid>').hideHelp())
    .action(act(async (action: string | undefined, node: string | undefined, _o, cmd: Command) => {
      const o = cmd.optsWithGlobals()
      if (action === 'exit') {
        if (node === undefined) throw new RangeError('shoal node exit needs the node: shoal node exit NODE_ID (see shoal status)')
        return await objects.nodeExit(node, o)
      }
      if (action !== undefined) throw new RangeError(`unknown node action "${action}"; the one action is "exit" (shoal node exit NODE)`)
      for (const name of ['provider', 'region', 'operator'] as const) {
        if (o[name] === undefined) throw new RangeError(`a node agent needs --${name}; see shoal node --help`)
      }
      return await runNode(o as Parameters<typeof runNode>[0])
    }))

  p.command('mb').argument('<bucket>').description('make a bucket')
    .option('--k <n>', 'data pieces per segment (default 4)')
    .option('--m <n>', 'parity pieces per segment (default 2)')
    .option('--spares <n>', 'extra pieces to cut slow uploads (default 1)')
    .option('--dimensions <list>', 'failure domains to survive, from provider,region,operator,subnet (default provider,region,operator)')
    .option('--refuse-under-placed', 'fail writes while the policy cannot be met, instead of writing under the strongest placement possible')
    .action(act(async (name: string, _o, cmd: Command) => await objects.mb(name, cmd.optsWithGlobals())))
  p.command('rb').argument('<bucket>').description('remove an empty bucket')
    .action(act(async (name: string, _o, cmd: Command) => await objects.rb(name, g(cmd))))
  p.command('put').argument('<file>').argument('<bucket/key>').description('upload a file (a key ending in / gets the file name)')
    .option('--content-type <type>', 'stored Content-Type')
    .action(act(async (file: string, target: string, _o, cmd: Command) => await objects.put(file, target, cmd.optsWithGlobals())))
  p.command('get').argument('<bucket/key>').argument('[dest]', 'file, folder or - for stdout (default: the key\'s file name)').description('download an object')
    .action(act(async (target: string, dest: string | undefined, _o, cmd: Command) => await objects.get(target, dest, g(cmd))))
  p.command('ls').argument('[bucket/prefix]').description('list buckets, or objects under a prefix')
    .option('-r, --recursive', 'list every key, not folder by folder')
    .action(act(async (target: string | undefined, _o, cmd: Command) => await objects.ls(target, cmd.optsWithGlobals())))
  p.command('rm').argument('<bucket/key>').description('delete an object')
    .action(act(async (target: string, _o, cmd: Command) => await objects.rmObject(target, g(cmd))))
  p.command('locate').argument('<bucket/key>').description('show where an object\'s pieces are: node, provider, region, online')
    .action(act(async (target: string, _o, cmd: Command) => await objects.locate(target, g(cmd))))
  const keys = p.command('keys').description('S3 access keys: each belongs to an account, which owns the buckets it creates')
  keys.command('create').argument('<account>').description('create an access key for ACCOUNT (created if new); the secret is shown once')
    .action(act(async (account: string, _o, cmd: Command) => await objects.keysCreate(account, g(cmd))))
  keys.command('ls').description('list access keys and their accounts (never secrets)')
    .action(act(async (_o, cmd: Command) => await objects.keysList(g(cmd))))
  keys.command('rm').argument('<accessKeyId>').description('delete an access key')
    .action(act(async (id: string, _o, cmd: Command) => await objects.keysRemove(id, g(cmd))))
  p.command('status').description('nodes, liveness, standing and audit scores, capacity, pieces per provider and region, under-placed segments')
    .action(act(async (_o, cmd: Command) => await objects.status(g(cmd))))
  p.command('risk').argument('[bucket]').description('concentration by provider, region, operator, country and ASN (shares, HHI, Nakamoto) and each provider\'s and region\'s blast radius')
    .action(act(async (bucket: string | undefined, _o, cmd: Command) => await risk(bucket, g(cmd))))
  p.command('drill').description('failure drill on a local network: freeze every node of one domain with SIGSTOP (processes stay, sockets hang: harder than a crash) under a write/read workload; measure errors, latency and time to full redundancy, resume the nodes, verify every object byte-exact. --dry-run answers from metadata only')
    .option('--provider <name>', 'freeze every node of this provider')
    .option('--region <name>', 'freeze every node of this region')
    .option('--operator <name>', 'freeze every node of this operator')
    .option('--node <id>', 'freeze one node (id or a unique prefix)')
    .option('--baseline <duration>', `workload time before the outage (default ${DRILL_DEFAULTS.baseline})`)
    .option('--outage <duration>', `least workload time during the outage; it goes on until full redundancy or --timeout (default ${DRILL_DEFAULTS.outage})`)
    .option('--timeout <duration>', `longest wait for full redundancy, from the freeze (default ${DRILL_DEFAULTS.timeout})`)
    .option('--concurrency <n>', `concurrent workload requests (default ${DRILL_DEFAULTS.concurrency})`)
    .option('--object-size <size>', `size of each object written (default ${DRILL_DEFAULTS.objectSize})`)
    .option('--cleanup', 'delete the drill bucket and its objects afterwards (default: keep them)')
    .option('--dry-run', 'touch no process: which objects would lose availability or data, from metadata (any coordinator)')
    .action(act(async (_o, cmd: Command) => await drill(cmd.optsWithGlobals())))
  for (const [task, what] of [['audit', 'run one audit round now: challenge every node for random blocks of its pieces'],
    ['repair', 'run one repair pass now: find segments at risk, rebuild and re-place their pieces'],
    ['gc', 'run one garbage collection pass now: send every node its retain set']] as const) {
    p.command(task).description(what).action(act(async (_o, cmd: Command) => await objects.runTask(task, g(cmd))))
  }

  return p
}

/** Runs the CLI with `argv` (process.argv shape) and resolves with the exit code. */
export async function main (argv: string[]): Promise<number> {
  let code = 0
  const p = program((c) => { code = c })
  const override = (c: Command): void => { c.exitOverride(); for (const sub of c.commands) override(sub) }
  override(p)
  try {
    await p.parseAsync(argv)
    return code
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    const e = err as Error
    if (p.opts().json === true) process.stdout.write(JSON.stringify({ error: { name: e.name === 'ApiError' ? (err as { errorName: string }).errorName : e.name, message: e.message } }) + '\n')
    process.stderr.write(`shoal: ${e.message}\n`)
    if (process.env.SHOAL_DEBUG === '1') process.stderr.write(`${e.stack}\n`)
    return e.name === 'UsageError' || e.name === 'RangeError' ? 2 : 1
  }
}
