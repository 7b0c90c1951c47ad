// Secrets are scrubbed as substrings from everything that leaves @chorus/mcp: a server that answers 401 echoing the
// bare token (not the whole "Bearer …" header value) must not make the token appear in the error, its cause, the
// server's status or the logs.
import * as Http from "node:http"
import type * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { McpClient, McpConfig } from "@chorus/mcp"
import { Cause, Effect, Queue } from "effect"
import * as Servers from "./servers.js"

const token = "tok_9f8e7d6c5b4a39281706"
const apiKey = "key-AbCdEf0123456789"

// Answers 401 with the token it was sent, bare, in the body and in a header, as some servers do.
const echoingServer = Effect.acquireRelease(
  Effect.async<Http.Server>((resume) => {
    const server = Http.createServer((request, response) => {
      const sent = String(request.headers.authorization ?? "").replace(/^Bearer\s+/i, "")
      const key = String(request.headers["x-api-key"] ?? "")
      response.writeHead(401, { "content-type": "text/plain", "x-rejected-token": sent })
      response.end(`invalid token ${sent} (key ${key}) for this resource`)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}/mcp`))

describe("secrets are redacted as substrings", () => {
  it.live("a 401 server echoing the bare token: the token appears in no error, status or log", () =>
    Effect.gen(function*() {
      const { layer, lines } = yield* Servers.captureLogs
      const written: Array<string> = []
      const url = yield* echoingServer
      const run = Effect.gen(function*() {
        const client = yield* McpClient.make(McpConfig.make([
          McpConfig.http("echo", { url, headers: { Authorization: `Bearer ${token}`, "X-Api-Key": apiKey } })
        ]))
        const failure = client.startupFailures[0]
        assert.isDefined(failure)
        assert.include(failure!.message, "401")
        written.push(failure!.message, JSON.stringify(failure), String(failure!.cause), Cause.pretty(Cause.fail(failure)))
        const status = yield* client.status
        written.push(JSON.stringify(status), status[0]?.error?.message ?? "")
        const call = yield* Effect.flip(client.callTool("echo", "anything", {}))
        written.push(call.message, JSON.stringify(call), String(call.cause))
      }).pipe(Effect.scoped, Effect.provide(layer))
      yield* run
      written.push(...Array.from(yield* Queue.takeAll(lines)).map((line) => `${line.message} ${JSON.stringify(line.annotations)}`))
      const everything = written.join("\n")
      assert.include(everything, "<redacted>")
      assert.notInclude(everything, token)
      assert.notInclude(everything, apiKey)
    }).pipe(Effect.scoped))
})
