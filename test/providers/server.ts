/**
 * A local HTTP server on 127.0.0.1 (random port) that speaks the OpenAI wire
 * protocol for the provider tests: it answers each request with the next
 * scripted reply (an SSE stream replayed frame by frame, or an HTTP error),
 * and records every request it receives.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** How an SSE reply ends once its frames are written. */
export type Ending =
  /** End the response normally. */
  | "end"
  /** Send nothing more and keep the connection open. */
  | "stall"
  /** Destroy the socket (a connection reset). */
  | "destroy"

/** A scripted reply. */
export type Reply =
  | { readonly _tag: "Sse"; readonly frames: ReadonlyArray<string>; readonly ending: Ending }
  | {
    readonly _tag: "Error"
    readonly status: number
    readonly body: string
    readonly headers: Readonly<Record<string, string>>
  }
  /** Accept the request and never answer, not even with headers. */
  | { readonly _tag: "Silent" }

/** A request the server received. */
export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: any
  /** Resolves when the connection of this request closed (client abort, or response end). */
  readonly closed: Promise<void>
  /** Resolves when the server has written all scripted frames (before its ending). */
  readonly written: Promise<void>
}

export interface TestServer {
  /** The API root, e.g. `http://127.0.0.1:1234/v1`. */
  readonly baseURL: string
  readonly requests: () => ReadonlyArray<Received>
  /** Queues replies, served in order, one per request. */
  readonly reply: (...replies: ReadonlyArray<Reply>) => void
}

/** The SSE frames of a fixture file (`test/providers/fixtures/<path>`), exactly as written. */
export const fixture = (path: string): ReadonlyArray<string> =>
  readFileSync(new URL(`./fixtures/${path}`, import.meta.url), "utf8")
    .split(/(?<=\n\n)/)
    .filter((frame) => frame.length > 0)

export const sse = (frames: ReadonlyArray<string>, ending: Ending = "end"): Reply => ({ _tag: "Sse", frames, ending })

export const error = (
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {}
): Reply => ({
  _tag: "Error",
  status,
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: typeof body === "string" ? headers : { "content-type": "application/json", ...headers }
})

export const silent: Reply = { _tag: "Silent" }

/** Starts the server for the current scope. */
export const make: Effect.Effect<TestServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly api: TestServer }>((resume) => {
    const received: Array<Received> = []
    const queue: Array<Reply> = []
    const server = Http.createServer((req, res) => {
      let closedResolve!: () => void
      let writtenResolve!: () => void
      const closed = new Promise<void>((resolve) => (closedResolve = resolve))
      const written = new Promise<void>((resolve) => (writtenResolve = resolve))
      res.on("close", () => closedResolve())
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        let body: unknown = text
        try {
          body = JSON.parse(text)
        } catch {
          // keep the text
        }
        received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, closed, written })
        const reply = queue.shift()
        if (reply === undefined) {
          res.writeHead(500, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { message: "the test server has no reply scripted", type: "server_error" } }))
          writtenResolve()
          return
        }
        switch (reply._tag) {
          case "Silent":
            writtenResolve()
            return
          case "Error":
            res.writeHead(reply.status, reply.headers)
            res.end(reply.body)
            writtenResolve()
            return
          case "Sse": {
            res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" })
            res.flushHeaders()
            const frames = [...reply.frames]
            const next = () => {
              const frame = frames.shift()
              if (frame !== undefined) {
                res.write(frame, () => setImmediate(next))
                return
              }
              writtenResolve()
              if (reply.ending === "end") res.end()
              else if (reply.ending === "destroy") res.socket?.destroy()
            }
            next()
          }
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({
        server,
        api: {
          baseURL: `http://127.0.0.1:${port}/v1`,
          requests: () => received,
          reply: (...replies) => {
            queue.push(...replies)
          }
        }
      }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ api }) => api))
