/**
 * An OpenAI Responses API server on 127.0.0.1 (random port), run in a child
 * process so that it notices a closed connection on its own event loop, and
 * does its own work there, whatever the client's process is doing.
 *
 * `POST …/responses` answers with the SSE prelude of a message
 * (`response.created`, `response.in_progress`, `response.output_item.added`,
 * `response.content_part.added`), then one `response.output_text.delta`
 * every `intervalMs`, up to `maxDeltas`, then the closing events. The deltas
 * are the benchmark script's (`support.script`). With `intervalMs: 0` the
 * whole answer, built once when the server starts, is sent at once: the
 * stream throughput benchmark measures the clients, not the server. The run
 * number is taken from the last `run-<n>` in the request body; when the
 * connection closes the server reports `{ run, closedAt, deltas }` (`closedAt`
 * on the clock of `support.now`, the system's monotonic clock, the same in
 * every process of the machine).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { script } from "./support.js"

export interface ServerOptions {
  readonly intervalMs: number
  readonly maxDeltas: number
}

/** What the server reports for each request. */
export interface Closed {
  readonly run: number
  readonly closedAt: number
  /** Deltas written before the connection closed. */
  readonly deltas: number
  /** Whether the server finished the stream itself (the client did not stop it). */
  readonly completed: boolean
}

export interface SlowServer {
  readonly baseURL: string
  /** Resolves when the server has seen the connection of run `run` close. */
  readonly closed: (run: number) => Promise<Closed>
  readonly stop: () => Promise<void>
}

const clock = (): number => Number(process.hrtime.bigint()) / 1e6

const frame = (data: Record<string, unknown>) => `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`

const response = (id: string, status: string, output: ReadonlyArray<unknown>) => ({
  id,
  object: "response",
  created_at: 1763913600,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model: "gpt-bench",
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: false,
  temperature: 1,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: 1,
  truncation: "disabled",
  usage: status === "completed"
    ? { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 1, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 }
    : null,
  metadata: {}
})

/** The closing events of a message whose text is `text`. */
const closing = (id: string, itemId: string, text: string, from: number): string => {
  let sequence = from
  const message = {
    id: itemId,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", annotations: [], logprobs: [], text }]
  }
  return frame({ type: "response.output_text.done", sequence_number: sequence++, item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }) +
    frame({ type: "response.output_item.done", sequence_number: sequence++, output_index: 0, item: message }) +
    frame({ type: "response.completed", sequence_number: sequence++, response: response(id, "completed", [message]) })
}

const prelude = (id: string, itemId: string): string =>
  frame({ type: "response.created", sequence_number: 0, response: response(id, "in_progress", []) }) +
  frame({ type: "response.in_progress", sequence_number: 1, response: response(id, "in_progress", []) }) +
  frame({
    type: "response.output_item.added",
    sequence_number: 2,
    output_index: 0,
    item: { id: itemId, type: "message", status: "in_progress", content: [], role: "assistant" }
  }) +
  frame({
    type: "response.content_part.added",
    sequence_number: 3,
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    part: { type: "output_text", annotations: [], logprobs: [], text: "" }
  })

const deltaFrame = (itemId: string, sequence: number, delta: string): string =>
  frame({ type: "response.output_text.delta", sequence_number: sequence, item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] })

/** The whole answer of a burst, built once: the same bytes for every request. */
const burstOf = (deltas: ReadonlyArray<string>, text: string): Buffer => {
  const id = "resp_burst"
  const itemId = "msg_burst"
  const frames = [prelude(id, itemId)]
  for (let i = 0; i < deltas.length; i++) frames.push(deltaFrame(itemId, 4 + i, deltas[i]!))
  frames.push(closing(id, itemId, text, 4 + deltas.length))
  return Buffer.from(frames.join(""), "utf8")
}

const serve = (options: ServerOptions, report: (closed: Closed) => void) => {
  const answer = script(options.maxDeltas)
  const deltaOf = (i: number) => answer.deltas[i]!
  const textLength = (deltas: number) => answer.deltas.slice(0, deltas).reduce((sum, delta) => sum + delta.length, 0)
  const burst = options.intervalMs === 0 ? burstOf(answer.deltas, answer.text) : undefined
  return Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      const runs = [...body.matchAll(/run-(\d+)/g)]
      const run = runs.length === 0 ? -1 : Number(runs[runs.length - 1]![1])
      if (req.method !== "POST" || !(req.url ?? "").endsWith("/responses")) {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: `not here: ${req.method} ${req.url}`, type: "invalid_request_error" } }))
        return
      }
      const id = `resp_${run}`
      const itemId = `msg_${run}`
      let deltas = 0
      let completed = false
      let timer: NodeJS.Timeout | undefined
      res.on("close", () => {
        if (timer !== undefined) clearInterval(timer)
        report({ run, closedAt: clock(), deltas, completed })
      })
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" })
      if (burst !== undefined) {
        deltas = options.maxDeltas
        completed = true
        res.end(burst)
        return
      }
      res.write(prelude(id, itemId))
      let sequence = 4
      timer = setInterval(() => {
        if (deltas < options.maxDeltas) {
          res.write(deltaFrame(itemId, sequence++, deltaOf(deltas++)))
          return
        }
        clearInterval(timer)
        timer = undefined
        completed = true
        res.end(closing(id, itemId, answer.text.slice(0, textLength(deltas)), sequence))
      }, options.intervalMs)
    })
  })
}

type ToParent = { readonly _tag: "Listening"; readonly port: number } | { readonly _tag: "Closed"; readonly closed: Closed }

const childFlag = "--chorus-bench-slow-server"

if (process.argv.includes(childFlag) && process.send !== undefined) {
  const options = JSON.parse(process.argv[process.argv.indexOf(childFlag) + 1]!) as ServerOptions
  const send = (message: ToParent) => process.send!(message)
  const server = serve(options, (closed) => send({ _tag: "Closed", closed }))
  server.listen(0, "127.0.0.1", () => send({ _tag: "Listening", port: (server.address() as AddressInfo).port }))
  process.on("disconnect", () => {
    server.closeAllConnections()
    server.close()
  })
}

/** Starts the server in a child process (with this process's loader flags, so TypeScript runs). */
export const start = (options: ServerOptions): Promise<SlowServer> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [childFlag, JSON.stringify(options)], {
      execArgv: process.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const seen = new Map<number, Closed>()
    const waiting = new Map<number, (closed: Closed) => void>()
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the slow server exited (${code}) before listening`)))
    child.on("message", (message: ToParent) => {
      if (message._tag === "Closed") {
        const resume = waiting.get(message.closed.run)
        if (resume === undefined) {
          seen.set(message.closed.run, message.closed)
        } else {
          waiting.delete(message.closed.run)
          resume(message.closed)
        }
        return
      }
      resolve({
        baseURL: `http://127.0.0.1:${message.port}/v1`,
        closed: (run) => {
          const known = seen.get(run)
          if (known !== undefined) return Promise.resolve(known)
          return new Promise((resume) => waiting.set(run, resume))
        },
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners("exit")
            child.once("exit", () => done())
            child.disconnect()
          })
      })
    })
  })
