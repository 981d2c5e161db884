// Drive unmodified ocean.js 8.0.0 (@oceanprotocol/lib) through a free compute flow against a
// provider speaking the ocean-node compute API (reference §10.2, §10.3), with no chain.
//
//   COMPAT_PRIVATE_KEY=0x... node tests/compat/oceanjs8_flow.mjs \
//       --provider URL --dataset DID [--timeout SECONDS] [--sleep-seconds N]
//
// The key comes from the environment only, never from argv. The library is loaded from
// $OCEAN_JS8_DIR (default: .cache/compat/js8, made by scripts/setup-compat). One JSON object goes
// to stdout: what every step observed, and for a step that failed, its error. Exit status 0 when
// every step ran.
//
// Steps, all through ProviderInstance (ocean.js's BaseProvider over HTTP):
//   environments   getComputeEnvironments: pick the first one with a `free` block
//   start          freeComputeStart with the dataset and a raw algorithm (image python:3.11)
//   status         computeStatus until dateFinished (70 or 71 is success)
//   results        getComputeResultUrl + fetch for every listed result: outputs.tar is reported
//                  as size, sha256 and base64; algorithm.log as text
//   live_logs      a second job prints, then sleeps: computeStreamableLogs while it runs
//   stop           computeStop on that job, then computeStatus until it ends, then
//                  computeStreamableLogs once more (the job no longer runs)
//
// How ocean.js 8 runs without a chain:
// - Signing (SignatureUtils' signRequest) calls `signer.signMessage(bytes)` and only asks
//   `signer.provider.getNetwork()` if that throws, so an ethers v6 Wallet with no provider
//   signs every request; nothing else in these calls touches a chain.
// - freeComputeStart needs no order, no escrow and no initializeCompute.
// - ocean.js prints with console.log (e.g. "Signing message with ..."): console.log is pointed
//   at stderr so that only the JSON report goes to stdout.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const modulesDir =
  process.env.OCEAN_JS8_DIR || path.join(here, '..', '..', '.cache', 'compat', 'js8')
const require = createRequire(path.join(modulesDir, 'package.json'))
const { ProviderInstance } = require('@oceanprotocol/lib')
const { ethers } = require('ethers')
const libVersion = JSON.parse(
  readFileSync(path.join(modulesDir, 'node_modules', '@oceanprotocol', 'lib', 'package.json'), 'utf8')
).version

const KEY_VARIABLE = 'COMPAT_PRIVATE_KEY'
const RUNNING = 40
const SUCCESS = [70, 71]

console.log = (...args) => console.error(...args)

// What the first job's algorithm writes and prints; the test recomputes it from the dataset.
const SUMMARIZE = `
import json, os
from pathlib import Path
data = Path(os.environ.get("VOLUME") or "/data")
dids = json.loads(os.environ.get("DIDS") or "[]")
text = (data / "inputs" / dids[0] / "0").read_text()
summary = {"dids": dids, "input": text, "lines": len(text.splitlines())}
(data / "outputs" / "summary.json").write_text(json.dumps(summary, sort_keys=True) + "\\n")
print(f"oceanjs8-algo: read {summary['lines']} lines from {dids[0]}", flush=True)
`

function sleeperCode(seconds) {
  return `
import time
print("oceanjs8-sleeper: started", flush=True)
time.sleep(${seconds})
print("oceanjs8-sleeper: woke up", flush=True)
`
}

function rawAlgorithm(code) {
  return {
    meta: {
      rawcode: code,
      container: { entrypoint: 'python3 $ALGO', image: 'python', tag: '3.11' }
    }
  }
}

function parseArgs(argv) {
  const args = { timeout: 120, sleepSeconds: 30 }
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]]
    if (value === undefined) throw new Error(`${flag} needs a value`)
    switch (flag) {
      case '--provider': args.provider = value.replace(/\/+$/, ''); break
      case '--dataset': args.dataset = value; break
      case '--timeout': args.timeout = Number(value); break
      case '--sleep-seconds': args.sleepSeconds = Number(value); break
      default: throw new Error(`unknown option ${flag}`)
    }
  }
  for (const name of ['provider', 'dataset']) {
    if (!args[name]) throw new Error(`--${name} is required`)
  }
  return args
}

class StepFailed extends Error {}

const report = { client: 'ocean.js', version: libVersion, ethers: ethers.version, errors: {} }

async function step(name, action) {
  try {
    return await action()
  } catch (error) {
    if (error instanceof StepFailed) throw error
    report.errors[name] = {
      type: error?.constructor?.name || typeof error,
      message: String(error?.message ?? error),
      stack: String(error?.stack ?? '').split('\n').slice(0, 8).join('\n')
    }
    throw new StepFailed(name)
  }
}

function fail(name, message) {
  report.errors[name] = { type: 'CompatCheck', message }
  throw new StepFailed(name)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function asJob(name, answer, jobId) {
  const jobs = Array.isArray(answer) ? answer : [answer]
  // ocean-node answers `<hash>-<id>` on start and may answer the bare id elsewhere.
  const same = (j) => j && (j.jobId === jobId || jobId.endsWith(`-${j.jobId}`))
  const job = jobId ? jobs.find(same) : jobs[0]
  if (!job) fail(name, `no job ${jobId || ''} in ${JSON.stringify(answer)}`)
  return job
}

class Client {
  constructor(args, wallet) {
    this.args = args
    this.wallet = wallet
    this.url = args.provider
  }

  async wait(name, jobId, seen, untilStatus) {
    const deadline = Date.now() + this.args.timeout * 1000
    for (;;) {
      const answer = await step(name, () =>
        ProviderInstance.computeStatus(this.url, this.wallet, jobId)
      )
      const job = asJob(name, answer, jobId)
      const last = seen[seen.length - 1]
      if (!last || last[0] !== job.status || last[1] !== job.statusText) {
        seen.push([job.status, job.statusText])
      }
      if (job.dateFinished && Number(job.dateFinished) > 0) return job
      if (untilStatus !== undefined && (job.status || 0) >= untilStatus) return job
      if (Date.now() > deadline) fail(name, `job ${jobId} unfinished: ${JSON.stringify(job)}`)
      await sleep(300)
    }
  }

  async start(name, algorithm) {
    const asset = { documentId: this.ddo.id, serviceId: this.service.id }
    const answer = await step(name, () =>
      ProviderInstance.freeComputeStart(this.url, this.wallet, this.env.id, [asset], algorithm)
    )
    if (!answer) fail(name, 'freeComputeStart returned nothing (see stderr)')
    const job = asJob(name, answer)
    if (!job.jobId) fail(name, `no jobId in ${JSON.stringify(answer)}`)
    return job
  }

  // getComputeResultUrl signs with the next nonce; the URL is fetched before the next one is
  // made, since fetching it uses that nonce up.
  async download(name, jobId, index) {
    const url = await step(`${name}.url`, () =>
      ProviderInstance.getComputeResultUrl(this.url, this.wallet, jobId, index)
    )
    if (!url) fail(`${name}.url`, 'getComputeResultUrl returned nothing')
    return step(name, async () => {
      const response = await fetch(url)
      const bytes = Buffer.from(await response.arrayBuffer())
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${bytes.toString('utf8')}`)
      return bytes
    })
  }

  async runJob() {
    const job = { statuses: [] }
    report.job = job
    const started = await this.start('job.start', rawAlgorithm(SUMMARIZE))
    job.start_response = started
    job.job_id = started.jobId
    const final = await this.wait('job.status', job.job_id, job.statuses)
    job.final_status = final
    if (!SUCCESS.includes(final.status)) fail('job.status', `ended at ${final.status}`)
    job.results = []
    for (const [position, entry] of (final.results || []).entries()) {
      const index = entry.index ?? position
      const bytes = await this.download(`job.result.${index}`, job.job_id, index)
      const item = { type: entry.type, filename: entry.filename, index, size: bytes.length }
      if (entry.type === 'output') {
        item.sha256 = createHash('sha256').update(bytes).digest('hex')
        item.base64 = bytes.toString('base64')
      } else {
        item.text = bytes.toString('utf8')
      }
      job.results.push(item)
    }
    if (!job.results.some((r) => r.type === 'output')) {
      fail('job.results', `no output in ${JSON.stringify(final.results)}`)
    }
  }

  // computeStreamableLogs gives the response body while the job runs (status 40); it is read
  // until the sleeper's first line shows, then the request is aborted.
  async liveLogs(jobId) {
    const live = {}
    report.live_logs = live
    const controller = new AbortController()
    const body = await step('live_logs.open', () =>
      ProviderInstance.computeStreamableLogs(this.url, this.wallet, jobId, controller.signal)
    )
    if (!body) fail('live_logs.open', 'computeStreamableLogs returned nothing (see stderr)')
    live.body_type = body?.constructor?.name
    let text = ''
    const timer = setTimeout(() => controller.abort(), 15000)
    try {
      await step('live_logs.read', async () => {
        try {
          for await (const chunk of body) {
            text += Buffer.from(chunk).toString('utf8')
            if (text.includes('\n')) break
          }
        } catch (error) {
          if (error?.name !== 'AbortError' && error?.type !== 'aborted') throw error
        }
      })
    } finally {
      clearTimeout(timer)
      controller.abort()
      if (typeof body.destroy === 'function') body.destroy()
    }
    live.text = text
  }

  async runStop() {
    const job = { statuses: [] }
    report.stop = job
    const started = await this.start('stop.start', rawAlgorithm(sleeperCode(this.args.sleepSeconds)))
    job.job_id = started.jobId
    job.status_before_stop = await this.wait('stop.running', job.job_id, job.statuses, RUNNING)
    try {
      await this.liveLogs(job.job_id)
    } catch (error) {
      if (!(error instanceof StepFailed)) throw error
    }
    const stoppedAt = Date.now()
    const answer = await step('stop.stop', () =>
      ProviderInstance.computeStop(job.job_id, this.url, this.wallet)
    )
    job.stop_response = answer
    job.stopped = asJob('stop.stop', answer, job.job_id)
    const final = await this.wait('stop.status', job.job_id, job.statuses)
    job.seconds_from_stop_to_finished = (Date.now() - stoppedAt) / 1000
    job.final_status = final
    report.live_logs_after_end = await this.logsAfterEnd(job.job_id)
  }

  // Live logs of an ended job: ocean-node answers 404 with a plain-text body, which ocean.js 8
  // reads with response.json(), so the call throws instead of returning null. Recorded, not
  // judged: either way no log text may come back.
  async logsAfterEnd(jobId) {
    try {
      const body = await ProviderInstance.computeStreamableLogs(this.url, this.wallet, jobId)
      let text = null
      if (body) {
        text = ''
        for await (const chunk of body) text += Buffer.from(chunk).toString('utf8')
      }
      return { returned: body === null ? null : typeof body, text }
    } catch (error) {
      return { threw: error?.constructor?.name, message: String(error?.message ?? error) }
    }
  }

  async run() {
    report.valid_provider = await step('isValidProvider', () =>
      ProviderInstance.isValidProvider(this.url)
    )
    this.ddo = await step('resolve', () => ProviderInstance.resolveDdo(this.url, this.args.dataset))
    if (!this.ddo) fail('resolve', `${this.args.dataset} not found`)
    this.service = (this.ddo.services || []).find((s) => s.type === 'compute')
    if (!this.service) fail('resolve', `${this.ddo.id} has no compute service`)
    const envs = await step('environments', () => ProviderInstance.getComputeEnvironments(this.url))
    report.environments = envs
    this.env = (Array.isArray(envs) ? envs : []).find((e) => e && e.free)
    if (!this.env) fail('environments', `no free environment in ${JSON.stringify(envs)}`)
    report.free_environment = this.env
    report.nonce_before = await step('nonce', () =>
      ProviderInstance.getNonce(this.url, report.consumer)
    )
    for (const action of [() => this.runJob(), () => this.runStop()]) {
      try {
        await action()
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error
      }
    }
    report.nonce_after = await step('nonce_after', () =>
      ProviderInstance.getNonce(this.url, report.consumer)
    )
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const key = process.env[KEY_VARIABLE]
  if (!key) {
    console.error(`${KEY_VARIABLE} is not set`)
    return 2
  }
  // No provider: ocean.js 8 signs with signMessage alone (see above).
  const wallet = new ethers.Wallet(key)
  report.consumer = await wallet.getAddress()
  try {
    await new Client(args, wallet).run()
  } catch (error) {
    if (!(error instanceof StepFailed)) {
      report.errors.unexpected = { type: error?.constructor?.name, message: String(error?.stack) }
    }
  }
  process.stdout.write(JSON.stringify(report, null, 1) + '\n')
  return Object.keys(report.errors).length ? 1 : 0
}

process.exitCode = await main()
