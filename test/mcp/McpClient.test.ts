import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Queue, Schedule, Scope } from "effect"
import { McpClient, McpConfig } from "@chorus/mcp"
import * as Servers from "./servers.js"

const closed = (scope: Scope.CloseableScope) => Scope.close(scope, Exit.void)

/** A real HTTP server on 127.0.0.1 that answers every request with the given junk. */
const junkServer = (status: number, contentType: string, body: string) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((_request, response) => {
        response.writeHead(status, { "content-type": contentType })
        response.end(body)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}/mcp`))

describe("McpClient", () => {
  it.live("connects every server concurrently; a server that fails to start is a typed error naming it", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const scope = yield* Scope.make()
      const client = yield* McpClient.make(
        McpConfig.make([
          Servers.everything(),
          McpConfig.stdio("broken", {
            command: process.execPath,
            args: ["-e", "process.stderr.write('boom: no database configured\\n'); process.exit(2)"]
          }),
          Servers.filesystem(directory),
          McpConfig.stdio("missing", { command: Path.join(directory, "no-such-server") }),
          Servers.memory(Path.join(directory, "memory.jsonl"))
        ])
      ).pipe(Scope.extend(scope))

      assert.deepStrictEqual(client.servers, ["everything", "broken", "filesystem", "missing", "memory"])
      const failures = new Map(client.startupFailures.map((error) => [error.server, error]))
      assert.deepStrictEqual([...failures.keys()].sort(), ["broken", "missing"])
      assert.strictEqual(failures.get("broken")?.reason, "start_failed")
      assert.include(failures.get("broken")?.message, "MCP server \"broken\" failed to start")
      assert.include(failures.get("broken")?.message, "boom: no database configured")
      assert.include(failures.get("missing")?.message, "ENOENT")

      const status = yield* client.status
      const running = status.filter((server) => server.connected)
      assert.deepStrictEqual(running.map((server) => server.name), ["everything", "filesystem", "memory"])
      const pids = running.map((server) => server.pid ?? -1)
      assert.strictEqual(new Set(pids).size, 3)
      for (const pid of pids) assert.isTrue(Servers.isAlive(pid))
      const childPids = Servers.children().map((child) => child.pid)
      for (const pid of pids) assert.include(childPids, pid)
      assert.strictEqual(status.find((server) => server.name === "broken")?.error?.reason, "start_failed")

      const tools = yield* client.tools
      const servers = new Set(tools.map((tool) => tool.server))
      assert.deepStrictEqual([...servers], ["everything", "filesystem", "memory"])
      const echo = yield* client.callTool("everything", "echo", { message: "still here" })
      assert.deepStrictEqual(echo.content, [{ type: "text", text: "Echo: still here" }])

      yield* closed(scope)
      for (const pid of pids) assert.isFalse(Servers.isAlive(pid), `server process ${pid} outlived the scope`)
      const leftovers = Servers.children().filter((child) => child.command.includes("@modelcontextprotocol"))
      assert.deepStrictEqual(leftovers, [])
    }).pipe(Effect.scoped))

  it.live("a start failure shows the server's stderr with configured secrets redacted", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.make(
        McpConfig.make([
          McpConfig.stdio("leaky", {
            command: process.execPath,
            args: ["-e", "process.stderr.write('bad token ' + process.env.API_TOKEN + '\\n'); process.exit(1)"],
            env: { API_TOKEN: "sk-live-0123456789" }
          })
        ])
      )
      const [failure] = client.startupFailures
      assert.strictEqual(failure?.server, "leaky")
      assert.include(failure?.message, "bad token <redacted>")
      assert.notInclude(failure?.message, "sk-live-0123456789")
    }).pipe(Effect.scoped))

  it.live("lists and reads resources, lists and gets prompts; refusals are typed errors", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const client = yield* McpClient.make(
        McpConfig.make([Servers.everything(), Servers.memory(Path.join(directory, "memory.jsonl"))])
      )
      const resources = yield* client.listResources("everything")
      const doc = resources.find((resource) => resource.uri.endsWith("/features.md"))
      assert.isDefined(doc)
      const contents = yield* client.readResource("everything", doc!.uri)
      const expected = Fs.readFileSync(
        Path.join(Path.dirname(Servers.bin("server-everything")), "docs", "features.md"),
        "utf8"
      )
      assert.deepStrictEqual(contents, [{ uri: doc!.uri, mimeType: "text/markdown", text: expected }])

      const templates = yield* client.listResourceTemplates("everything")
      assert.include(templates.map((template) => template.uriTemplate), "demo://resource/dynamic/text/{resourceId}")
      const dynamic = yield* client.readResource("everything", "demo://resource/dynamic/text/7")
      assert.include((dynamic[0] as { text: string }).text, "Resource 7")

      const prompts = yield* client.listPrompts("everything")
      const args = prompts.find((prompt) => prompt.name === "args-prompt")
      assert.deepStrictEqual(args?.arguments.map((argument) => [argument.name, argument.required]), [
        ["city", true],
        ["state", false]
      ])
      const prompt = yield* client.getPrompt("everything", "args-prompt", { city: "Lyon", state: "Rhône" })
      assert.deepStrictEqual(prompt.messages, [
        { role: "user", content: { type: "text", text: "What's weather in Lyon, Rhône?" } }
      ])

      const unknownResource = yield* Effect.flip(client.readResource("everything", "demo://nothing/here"))
      assert.strictEqual(unknownResource.reason, "request_failed")
      assert.strictEqual(unknownResource.code, -32602)
      assert.include(unknownResource.message, "demo://nothing/here")
      const unknownPrompt = yield* Effect.flip(client.getPrompt("everything", "no-such-prompt"))
      assert.strictEqual(unknownPrompt.reason, "request_failed")
      assert.include(unknownPrompt.message, "no-such-prompt")
      const missingArgument = yield* Effect.flip(client.getPrompt("everything", "args-prompt", {}))
      assert.strictEqual(missingArgument.reason, "request_failed")
      assert.strictEqual(missingArgument.code, -32602)
      const noPrompts = yield* Effect.flip(client.listPrompts("memory"))
      assert.strictEqual(noPrompts.reason, "unsupported")
      const notConfigured = yield* Effect.flip(client.listResources("nobody"))
      assert.strictEqual(notConfigured.reason, "not_configured")
      assert.include(notConfigured.message, "everything, memory")
    }).pipe(Effect.scoped))

  it.live("Streamable HTTP: server-everything on a free 127.0.0.1 port", () =>
    Effect.gen(function*() {
      const { url } = yield* Servers.everythingHttp
      const scope = yield* Scope.make()
      const client = yield* McpClient.make(
        McpConfig.make([McpConfig.http("remote", { url, headers: { Authorization: "Bearer test-token" } })])
      ).pipe(Scope.extend(scope))
      assert.deepStrictEqual(client.startupFailures, [])
      const [status] = yield* client.status
      assert.strictEqual(status?.transport, "http")
      assert.isTrue(status?.connected)
      assert.include(status?.tools, "trigger-long-running-operation")
      const echo = yield* client.callTool("remote", "echo", { message: "over http" })
      assert.deepStrictEqual(echo.content, [{ type: "text", text: "Echo: over http" }])
      const prompt = yield* client.getPrompt("remote", "simple-prompt")
      assert.strictEqual(prompt.messages[0]?.role, "user")
      yield* closed(scope)
      const after = yield* Effect.flip(client.callTool("remote", "echo", { message: "closed" }))
      assert.strictEqual(after.reason, "unavailable")
    }).pipe(Effect.scoped))

  it.live("HTTP endpoints that answer junk are typed start failures; the other servers stay usable", () =>
    Effect.gen(function*() {
      const html = yield* junkServer(200, "text/html", "<html><body>Welcome!</body></html>")
      const json = yield* junkServer(200, "application/json", "{\"hello\": \"world\"}")
      const error = yield* junkServer(500, "text/plain", "Internal Server Error")
      const client = yield* McpClient.make(
        McpConfig.make([
          McpConfig.http("html", { url: html, headers: { Authorization: "Bearer never-shown-1234" } }),
          McpConfig.http("json", { url: json }),
          McpConfig.http("error", { url: error }),
          Servers.everything()
        ])
      )
      const failures = new Map(client.startupFailures.map((failure) => [failure.server, failure]))
      assert.deepStrictEqual([...failures.keys()].sort(), ["error", "html", "json"])
      for (const failure of failures.values()) {
        assert.strictEqual(failure._tag, "McpServerError")
        assert.include(["start_failed", "malformed_response"], failure.reason)
        assert.notInclude(failure.message, "never-shown-1234")
      }
      assert.include(failures.get("error")?.message, "HTTP 500")
      assert.include(failures.get("html")?.message, "text/html")
      assert.include(failures.get("json")?.message, "not a JSON-RPC message")
      const echo = yield* client.callTool("everything", "echo", { message: "fine" })
      assert.isFalse(echo.isError)
    }).pipe(Effect.scoped))

  it.live("a stdio server that writes garbage: typed errors, never a crash, and the next call reconnects", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.make(
        McpConfig.make([Servers.garbage("garbage"), Servers.garbage("rude", "init")]),
        { reconnect: Schedule.recurs(2) }
      )
      assert.deepStrictEqual(client.startupFailures.map((failure) => [failure.server, failure.reason]), [
        ["rude", "malformed_response"]
      ])
      assert.include(client.startupFailures[0]?.message, "not a JSON-RPC message")
      const events = yield* client.events

      const badShape = yield* Effect.flip(client.callTool("garbage", "bad_shape", {}))
      assert.strictEqual(badShape.reason, "malformed_response")
      assert.strictEqual(badShape.server, "garbage")

      const [before] = yield* client.status
      const notJson = yield* Effect.flip(client.callTool("garbage", "garbage", {}))
      assert.strictEqual(notJson.reason, "malformed_response")
      assert.include(notJson.message, "not a JSON-RPC message")
      const lost = yield* Queue.take(events)
      assert.strictEqual(lost._tag, "Disconnected")

      const ok = yield* client.callTool("garbage", "ok", {})
      assert.deepStrictEqual(ok.content, [{ type: "text", text: "fine" }])
      const [after] = yield* client.status
      assert.notStrictEqual(after?.pid, before?.pid)
      assert.isFalse(Servers.isAlive(before?.pid ?? -1))
      const reconnected = yield* Queue.take(events)
      assert.strictEqual(reconnected._tag, "Connected")
      assert.isTrue(reconnected._tag === "Connected" && reconnected.reconnected)
    }).pipe(Effect.scoped))

  it.live("a server that cannot be restarted is unavailable after the reconnect schedule", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const script = Path.join(directory, "server.mjs")
      // A launcher that can be taken away, so that the server cannot be started again.
      Fs.writeFileSync(script, `await import(${JSON.stringify(Servers.fixture("dynamic-server.mjs"))})\n`)
      const client = yield* McpClient.make(
        McpConfig.make([McpConfig.stdio("fragile", { command: process.execPath, args: [script] })]),
        { reconnect: Schedule.recurs(2) }
      )
      assert.deepStrictEqual(client.startupFailures, [])
      Fs.rmSync(script)
      const exited = yield* Effect.flip(client.callTool("fragile", "exit", {}))
      assert.strictEqual(exited.reason, "crashed")
      const unavailable = yield* Effect.flip(client.callTool("fragile", "stats", {}))
      assert.strictEqual(unavailable.reason, "unavailable")
      assert.include(unavailable.message, "could not reconnect")
      const [status] = yield* client.status
      assert.isFalse(status?.connected)
    }).pipe(Effect.scoped))

  it.live("a server that never answers initialize fails to start after connectTimeout", () =>
    Effect.gen(function*() {
      const client = yield* McpClient.make(
        McpConfig.make([
          McpConfig.stdio("silent", { command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"] })
        ]),
        { connectTimeout: "1 second" }
      )
      assert.deepStrictEqual(client.startupFailures.map((failure) => failure.server), ["silent"])
      assert.include(client.startupFailures[0]?.message, "no answer to initialize within 1s")
      // Its process was ended with the failed connection.
      const leftovers = Servers.children().filter((child) => child.command.includes("setInterval"))
      assert.deepStrictEqual(leftovers, [])
    }).pipe(Effect.scoped))

  it.live("servers' log messages and lost servers are logged through Effect", () =>
    Effect.gen(function*() {
      const logs = yield* Servers.captureLogs
      yield* Effect.gen(function*() {
        const client = yield* McpClient.make(McpConfig.make([Servers.everything()]))
        yield* client.callTool("everything", "toggle-simulated-logging", {})
        const forwarded = yield* Servers.nextLog(logs.lines, (line) => line.message.includes("-level message"))
        assert.strictEqual(forwarded.annotations.mcpServer, "everything")
        const [status] = yield* client.status
        process.kill(status?.pid ?? -1, "SIGKILL")
        const lost = yield* Servers.nextLog(logs.lines, (line) => line.level === "WARN")
        assert.include(lost.message, "MCP server \"everything\" crashed")
        assert.strictEqual(lost.annotations.mcpServer, "everything")
      }).pipe(Effect.provide(logs.layer))
    }).pipe(Effect.scoped))
})
