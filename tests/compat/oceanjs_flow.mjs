// Drive unmodified ocean.js 3.4.6 (@oceanprotocol/lib) through the compute flow of reference
// §4.13 against a provider, with no chain.
//
//   COMPAT_PRIVATE_KEY=0x... node tests/compat/oceanjs_flow.mjs \
//       --provider URL --dataset DID --algorithm DID --sleeper DID \
//       [--strict-dataset DID] [--raw-code FILE] [--custom-data JSON] [--timeout SECONDS]
//
// The key comes from the environment only, never from argv. The library is loaded from
// $OCEAN_JS_DIR (default: .cache/compat/js, made by scripts/setup-compat). One JSON object goes to
// stdout: what every step observed, and for a step that failed, its error. Exit status 0 when
// every step ran.
//
// What ocean.js would get from a chain, and how it is satisfied here:
// - ProviderInstance's methods take the provider URL and a Signer. Signing goes through
//   `signProviderRequest`, which calls `signer.getChainId()` before `signMessage`: a bare ethers
//   Wallet has no provider and throws "missing provider". The Wallet gets a
//   StaticJsonRpcProvider built with an explicit network, which answers getNetwork() from that
//   network without ever sending a request to its URL (a closed loopback port).
// - Orders: ocean.js leaves ordering to the caller (its examples' handleOrder). As they do, an
//   initializeCompute item with `validOrder` and no `providerFee` is used as the transferTxId; any
//   other answer would need a chain, and is reported as an error.
// - ocean.js prints "[getNonce] ..." with console.log: console.log is pointed at stderr so that
//   only the JSON report goes to stdout.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const modulesDir = process.env.OCEAN_JS_DIR || path.join(here, '..', '..', '.cache', 'compat', 'js')
const require = createRequire(path.join(modulesDir, 'package.json'))
const { ProviderInstance, Aquarius, downloadFile } = require('@oceanprotocol/lib')
const { ethers } = require('ethers')
const libVersion = JSON.parse(
  readFileSync(path.join(modulesDir, 'node_modules', '@oceanprotocol', 'lib', 'package.json'), 'utf8')
).version

const KEY_VARIABLE = 'COMPAT_PRIVATE_KEY'
const RUNNING = 40
const UNUSED_RPC = 'http://127.0.0.1:1'

console.log = (...args) => console.error(...args)

function parseArgs(argv) {
  const args = { timeout: 120, customData: null }
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]]
    if (value === undefined) throw new Error(`${flag} needs a value`)
    switch (flag) {
      case '--provider': args.provider = value.replace(/\/+$/, ''); break
      case '--dataset': args.dataset = value; break
      case '--algorithm': args.algorithm = value; break
      case '--sleeper': args.sleeper = value; break
      case '--strict-dataset': args.strictDataset = value; break
      case '--raw-code': args.rawCode = value; break
      case '--custom-data': args.customData = JSON.parse(value); break
      case '--timeout': args.timeout = Number(value); break
      default: throw new Error(`unknown option ${flag}`)
    }
  }
  for (const name of ['provider', 'dataset', 'algorithm', 'sleeper']) {
    if (!args[name]) throw new Error(`--${name} is required`)
  }
  return args
}

class StepFailed extends Error {}

function rawAlgorithm(file) {
  return {
    rawcode: readFileSync(file, 'utf8'),
    language: 'python',
    version: '0.1',
    container: {
      entrypoint: 'python3 $ALGO',
      image: 'python',
      tag: '3.11-slim',
      checksum: 'sha256:' + '0'.repeat(64)
    }
  }
}

const report = { client: 'ocean.js', version: libVersion, errors: {} }

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

function blob(bytes) {
  const buffer = Buffer.from(bytes)
  return { text: buffer.toString('utf8'), base64: buffer.toString('base64'), size: buffer.length }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function computeService(ddo) {
  const service = (ddo.services || []).find((s) => s.type === 'compute')
  if (!service) throw new Error(`${ddo.id} has no compute service`)
  return service
}

// The order step of ocean.js's examples, for a provider that keeps its own order ledger.
function orderFrom(name, item) {
  if (!item) fail(name, 'initializeCompute gave no entry for this input')
  if (item.validOrder && !item.providerFee) return item.validOrder
  return fail(name, `initializeCompute asks for an on-chain order: ${JSON.stringify(item)}`)
}

function asJob(name, answer, jobId) {
  const jobs = Array.isArray(answer) ? answer : [answer]
  const job = jobId ? jobs.find((j) => j && j.jobId === jobId) : jobs[0]
  if (!job) fail(name, `no job ${jobId || ''} in ${JSON.stringify(answer)}`)
  return job
}

class Client {
  constructor(args, wallet, address) {
    this.args = args
    this.wallet = wallet
    this.address = address
    this.url = args.provider
    this.aquarius = new Aquarius(args.provider)
    this.ddos = {}
    this.env = null
  }

  async wait(name, jobId, seen, untilStatus) {
    const deadline = Date.now() + this.args.timeout * 1000
    for (;;) {
      const answer = await step(name, () =>
        ProviderInstance.computeStatus(this.url, this.address, jobId)
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

  // getComputeResultUrl, then ocean.js's own downloadFile (bytes plus the file name it takes
  // from Content-Disposition).
  async download(name, jobId, index) {
    const url = await step(`${name}.url`, () =>
      ProviderInstance.getComputeResultUrl(this.url, this.wallet, jobId, index)
    )
    return step(name, () => downloadFile(url, index))
  }

  async initialize(name, datasetDid, algorithm) {
    const dataset = this.ddos[datasetDid]
    const assets = [{ documentId: dataset.id, serviceId: computeService(dataset).id }]
    const validUntil = Math.floor(Date.now() / 1000) + 3600
    const answer = await step(name, () =>
      ProviderInstance.initializeCompute(
        assets, algorithm, this.env.id, validUntil, this.url, this.address
      )
    )
    if (!answer || !Array.isArray(answer.datasets)) {
      fail(name, `unexpected initializeCompute answer ${JSON.stringify(answer)}`)
    }
    const asset = { ...assets[0], transferTxId: orderFrom(`${name}.dataset`, answer.datasets[0]) }
    const algo = { ...algorithm }
    if (algorithm.documentId) algo.transferTxId = orderFrom(`${name}.algorithm`, answer.algorithm)
    return { answer, asset, algo }
  }

  async start(name, asset, algorithm) {
    // computeStart logs the provider's error and returns null instead of throwing.
    const answer = await step(name, () =>
      ProviderInstance.computeStart(this.url, this.wallet, this.env.id, asset, algorithm)
    )
    if (!answer) fail(name, 'computeStart returned null (the provider refused; see stderr)')
    const job = asJob(name, answer)
    if (!job.jobId) fail(name, `no jobId in ${JSON.stringify(answer)}`)
    return job
  }

  async runJob(name, algorithm) {
    const job = {}
    report[name] = job
    if (this.args.customData) algorithm.algocustomdata = this.args.customData
    const { answer, asset, algo } = await this.initialize(
      `${name}.initialize`, this.args.dataset, algorithm
    )
    job.initialize_response = answer
    job.transfer_tx_id = asset.transferTxId
    if (algo.transferTxId) job.algorithm_transfer_tx_id = algo.transferTxId
    const started = await this.start(`${name}.start`, asset, algo)
    job.start_response = started
    job.job_id = started.jobId
    job.statuses = []
    const final = await this.wait(`${name}.status`, job.job_id, job.statuses)
    job.final_status = final
    const results = Array.isArray(final.results) ? final.results : []
    job.results = []
    for (const [position, entry] of results.entries()) {
      const index = entry.index ?? position
      const got = await this.download(`${name}.result.${index}`, job.job_id, index)
      job.results.push({
        type: entry.type,
        filename: entry.filename,
        index,
        downloaded_as: got.filename,
        ...blob(new Uint8Array(got.data))
      })
    }
    const output = job.results.find((r) => r.type === 'output')
    if (!output) fail(`${name}.result`, `no output in ${JSON.stringify(results)}`)
    job.result = output
    job.logs_algorithmLog = job.results.filter((r) => r.type === 'algorithmLog')
  }

  // computeStatus as ocean.js's own tests and examples call it: with the job id and a fourth
  // argument (the dataset DID in ComputeFlow.test.ts, an order id elsewhere; ocean.js strips its
  // 0x), and with the owner alone.
  async statusVariants() {
    const variants = {}
    report.status_variants = variants
    const { job_id: jobId, transfer_tx_id: orderId } = report.published
    const calls = {
      owner_only: [],
      job_and_dataset_did: [jobId, this.args.dataset],
      job_and_order_id: [jobId, orderId]
    }
    for (const [label, extra] of Object.entries(calls)) {
      const answer = await step(`status_variants.${label}`, () =>
        ProviderInstance.computeStatus(this.url, this.address, ...extra)
      )
      const jobs = Array.isArray(answer) ? answer : [answer]
      variants[label] = jobs.map((j) => j && j.jobId)
    }
  }

  // What ocean.js does with inputs the strict dataset refuses: computeStart returns null and
  // logs the provider's error body, which is captured here.
  async runRefusals() {
    const refusals = {}
    report.refusals = refusals
    const strict = this.ddos[this.args.strictDataset]
    const sleeper = this.ddos[this.args.sleeper]
    const cases = { untrusted: { documentId: sleeper.id, serviceId: sleeper.services[0].id } }
    if (this.args.rawCode) cases.raw = { meta: rawAlgorithm(this.args.rawCode) }
    for (const [label, algorithm] of Object.entries(cases)) {
      const logged = []
      const original = console.error
      console.error = (...args) => {
        logged.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
        original(...args)
      }
      try {
        const assets = [{ documentId: strict.id, serviceId: computeService(strict).id }]
        const validUntil = Math.floor(Date.now() / 1000) + 3600
        const init = await ProviderInstance.initializeCompute(
          assets, algorithm, this.env.id, validUntil, this.url, this.address
        )
        const asset = { ...assets[0], transferTxId: init.datasets?.[0]?.validOrder }
        const algo = { ...algorithm }
        if (algorithm.documentId) algo.transferTxId = init.algorithm?.validOrder
        const answer = await ProviderInstance.computeStart(
          this.url, this.wallet, this.env.id, asset, algo
        )
        refusals[label] = { refused: !answer, answer, logged: logged.join('\n') }
      } catch (error) {
        refusals[label] = { refused: true, thrown: String(error?.message), logged: logged.join('\n') }
      } finally {
        console.error = original
      }
    }
  }

  // computeStop with its optional agreementId argument, as ocean-cli passes it (the order id;
  // ocean.js strips its 0x). The job is stopped again without it afterwards, to clean up.
  async runStopWithAgreement() {
    const job = {}
    report.stop_with_agreement = job
    const sleeper = this.ddos[this.args.sleeper]
    const algorithm = { documentId: sleeper.id, serviceId: sleeper.services[0].id }
    const { asset, algo } = await this.initialize('stop_with_agreement.initialize',
      this.args.dataset, algorithm)
    const started = await this.start('stop_with_agreement.start', asset, algo)
    job.job_id = started.jobId
    await this.wait('stop_with_agreement.running', job.job_id, [], RUNNING)
    const answer = await step('stop_with_agreement.stop', () =>
      ProviderInstance.computeStop(
        this.args.dataset, this.address, job.job_id, this.url, this.wallet, asset.transferTxId
      )
    )
    job.stopped_job_ids = (Array.isArray(answer) ? answer : [answer]).map((j) => j && j.jobId)
    await sleep(1000)
    const after = asJob('stop_with_agreement.after', await step('stop_with_agreement.after', () =>
      ProviderInstance.computeStatus(this.url, this.address, job.job_id)
    ), job.job_id)
    job.status_after = [after.status, after.statusText, after.dateFinished]
    await step('stop_with_agreement.cleanup', () =>
      ProviderInstance.computeStop(this.args.dataset, this.address, job.job_id, this.url, this.wallet)
    )
  }

  async runStop() {
    const job = {}
    report.stop = job
    const sleeper = this.ddos[this.args.sleeper]
    const algorithm = { documentId: sleeper.id, serviceId: sleeper.services[0].id }
    const { asset, algo } = await this.initialize('stop.initialize', this.args.dataset, algorithm)
    const started = await this.start('stop.start', asset, algo)
    job.job_id = started.jobId
    job.statuses = []
    job.status_before_stop = await this.wait('stop.running', job.job_id, job.statuses, RUNNING)
    const stoppedAt = Date.now()
    const answer = await step('stop.stop', () =>
      ProviderInstance.computeStop(
        this.args.dataset, this.address, job.job_id, this.url, this.wallet
      )
    )
    job.stop_response = answer
    const final = await this.wait('stop.status', job.job_id, job.statuses)
    job.seconds_from_stop_to_finished = (Date.now() - stoppedAt) / 1000
    job.final_status = final
  }

  async run() {
    report.valid_provider = await step('isValidProvider', () =>
      ProviderInstance.isValidProvider(this.url)
    )
    const dids = [this.args.dataset, this.args.algorithm, this.args.sleeper, this.args.strictDataset]
    for (const did of dids.filter(Boolean)) {
      this.ddos[did] = await step(`resolve.${did}`, () => this.aquarius.resolve(did))
    }
    const dataset = this.ddos[this.args.dataset]
    const service = computeService(dataset)
    report.chain_id = dataset.chainId
    const envs = await step('environments', () =>
      ProviderInstance.getComputeEnvironments(this.url)
    )
    report.environments = envs
    const chainEnvs = envs && envs[dataset.chainId]
    if (!Array.isArray(chainEnvs)) {
      fail('environments', `no list for chain ${dataset.chainId} in ${JSON.stringify(envs)}`)
    }
    this.env = chainEnvs.find((env) => Number(env.priceMin) === 0)
    if (!this.env) fail('free_environment', 'no environment with priceMin 0')
    report.free_environment = this.env
    report.fileinfo = await step('fileinfo', () =>
      ProviderInstance.checkDidFiles(dataset.id, service.id, this.url, true)
    )
    report.fileinfo_valid = Array.isArray(report.fileinfo) && report.fileinfo.some((f) => f.valid)
    report.nonce = await step('nonce', () => ProviderInstance.getNonce(this.url, this.address))
    const algoDdo = this.ddos[this.args.algorithm]
    const actions = [
      () => this.runJob('published', { documentId: algoDdo.id, serviceId: algoDdo.services[0].id }),
      () => this.statusVariants()
    ]
    report.dataset_allows_raw = Boolean(service.compute?.allowRawAlgorithm)
    if (this.args.rawCode && report.dataset_allows_raw) {
      actions.push(() => this.runJob('raw', { meta: rawAlgorithm(this.args.rawCode) }))
    }
    actions.push(() => this.runStop())
    actions.push(() => this.runStopWithAgreement())
    if (this.args.strictDataset) actions.push(() => this.runRefusals())
    for (const action of actions) {
      try {
        await action()
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error
      }
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const key = process.env[KEY_VARIABLE]
  if (!key) {
    console.error(`${KEY_VARIABLE} is not set`)
    return 2
  }
  const offline = new ethers.providers.StaticJsonRpcProvider(UNUSED_RPC, {
    chainId: 8996,
    name: 'specrunner-offline'
  })
  const wallet = new ethers.Wallet(key, offline)
  const address = await wallet.getAddress()
  report.consumer = address
  try {
    await new Client(args, wallet, address).run()
  } catch (error) {
    if (!(error instanceof StepFailed)) {
      report.errors.unexpected = { type: error?.constructor?.name, message: String(error?.stack) }
    }
  }
  process.stdout.write(JSON.stringify(report, null, 1) + '\n')
  return Object.keys(report.errors).length ? 1 : 0
}

process.exitCode = await main()
