/**
 * A model behind a local HTTP server on 127.0.0.1 that speaks the OpenAI Responses wire protocol (SSE), for
 * processes that reach it over the network with the `openai` SDK settings (`OPENAI_BASE_URL`). It answers by
 * the request's content, so it does not matter which process asks:
 * - after a function call's output: "The note is written.";
 * - asked to write a note: a `write_note` call (a new call id each time);
 * - asked for something long: `longWords` words, one every `wordDelay`, until the client goes away;
 * - otherwise `shortAnswer`, word by word.
 * Every request is recorded, with whether its client went away before the reply ended (a stop aborts it).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import type { Scope } from "effect"

export const shortAnswer = "Hello from the cluster, one word at a time."
export const noteDone = "The note is written."
export const note = { filename: "cluster.md", content: "# Written once\n\nfrom a clustered web chat\n" }

export interface Request {
  readonly body: { readonly input?: ReadonlyArray<Record<string, unknown>> }
  /** Set when the client closed the connection before the reply ended. */
  aborted: boolean
}

export interface Model {
  /** The API root, e.g. `http://127.0.0.1:1234/v1`. */
  readonly baseURL: string
  readonly requests: ReadonlyArray<Request>
}

const frame = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const response = (id: string, status: string) => ({ id, object: "response", status, model: "gpt-test", output: [], usage: null })

const lastText = (input: ReadonlyArray<Record<string, unknown>>): string => {
  const last = input.at(-1)
  const content = last?.content
  if (typeof content === "string") return content
  return Array.isArray(content) ? content.map((part: { text?: unknown }) => typeof part.text === "string" ? part.text : "").join("") : ""
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const make = (options?: { readonly wordDelay?: number; readonly longWords?: number }): Effect.Effect<Model, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly model: Model }>((resume) => {
      const requests: Array<Request> = []
      let calls = 0
      let responses = 0
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", async () => {
          const request: Request = { body: JSON.parse(Buffer.concat(chunks).toString("utf8")), aborted: false }
          requests.push(request)
          let ended = false
          res.on("close", () => {
            if (!ended) request.aborted = true
          })
          const id = `resp_${++responses}`
          const write = (text: string) => {
            if (!request.aborted) res.write(text)
          }
          res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" })
          write(frame("response.created", { response: response(id, "in_progress") }))
          const input = request.body.input ?? []
          const text = lastText(input)
          if (input.at(-1)?.type !== "function_call_output" && /\bnote\b/i.test(text)) {
            const call = { id: `fc_${responses}`, type: "function_call", call_id: `call_note_${++calls}`, name: "write_note" }
            const args = JSON.stringify(note)
            write(frame("response.output_item.added", { output_index: 0, item: { ...call, arguments: "", status: "in_progress" } }))
            write(frame("response.function_call_arguments.delta", { output_index: 0, item_id: call.id, delta: args }))
            write(frame("response.output_item.done", { output_index: 0, item: { ...call, arguments: args, status: "completed" } }))
          } else {
            const words = input.at(-1)?.type === "function_call_output"
              ? noteDone.split(/(?<= )/)
              : /\blong\b/i.test(text)
              ? Array.from({ length: options?.longWords ?? 400 }, (_, i) => `word${i} `)
              : shortAnswer.split(/(?<= )/)
            const item = { id: `msg_${responses}`, type: "message", role: "assistant" }
            write(frame("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", content: [] } }))
            for (const word of words) {
              if (request.aborted) return
              write(frame("response.output_text.delta", { output_index: 0, item_id: item.id, content_index: 0, delta: word }))
              await sleep(options?.wordDelay ?? 60)
            }
            write(frame("response.output_item.done", {
              output_index: 0,
              item: { ...item, status: "completed", content: [{ type: "output_text", text: words.join(""), annotations: [] }] }
            }))
          }
          write(frame("response.completed", { response: response(id, "completed") }))
          ended = true
          res.end()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, model: { baseURL: `http://127.0.0.1:${port}/v1`, requests } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ model }) => model))
