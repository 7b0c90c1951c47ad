import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted, Schema } from "effect"
import { McpConfig } from "@chorus/mcp"

const failure = (input: unknown) =>
  Effect.flip(McpConfig.decode(input)).pipe(Effect.map((error) => ({ error, message: error.message })))

describe("McpConfig", () => {
  it.effect("decodes stdio and HTTP servers in file order, with secrets redacted", () =>
    Effect.gen(function*() {
      const config = yield* McpConfig.decode({
        mcpServers: {
          files: { command: "node", args: ["server.js", "/tmp"], env: { API_KEY: "sk-live-123" }, cwd: "/srv" },
          remote: { type: "http", url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer tok-456" } },
          off: { command: "nothing", disabled: true },
          other: { url: "http://127.0.0.1:8080/mcp", alwaysAllow: ["x"] }
        }
      })
      assert.deepStrictEqual(config.servers.map((server) => server.name), ["files", "remote", "other"])
      const [files, remote, other] = config.servers
      assert.strictEqual(files?._tag, "StdioServer")
      assert.strictEqual(remote?._tag, "HttpServer")
      assert.strictEqual(other?._tag, "HttpServer")
      if (files?._tag !== "StdioServer" || remote?._tag !== "HttpServer") return
      assert.deepStrictEqual(files.args, ["server.js", "/tmp"])
      assert.strictEqual(files.cwd, "/srv")
      assert.strictEqual(Redacted.value(files.env.API_KEY!), "sk-live-123")
      assert.strictEqual(Redacted.value(remote.headers.Authorization!), "Bearer tok-456")
      // Printing the config never shows a secret.
      const printed = `${String(files.env.API_KEY)} ${JSON.stringify(config)} ${String(remote)}`
      assert.notInclude(printed, "sk-live-123")
      assert.notInclude(printed, "tok-456")
    }))

  it.effect("the Schema decodes the file shape and encodes it back", () =>
    Effect.gen(function*() {
      const encoded = {
        mcpServers: {
          memory: { command: "mcp-server-memory", args: [], env: { MEMORY_FILE_PATH: "/tmp/m.json" } },
          api: { url: "https://example.com/mcp", headers: { "X-Key": "secret" } }
        }
      }
      const config = yield* Schema.decodeUnknown(McpConfig.McpConfig)(encoded)
      assert.deepStrictEqual(yield* Schema.encode(McpConfig.McpConfig)(config), encoded)
      const error = yield* Effect.flip(Schema.decodeUnknown(McpConfig.McpConfig)({ mcpServers: { api: { url: 7 } } }))
      assert.include(error.message, "server \"api\"")
      assert.include(error.message, "\"url\"")
    }))

  it.effect("garbage is a typed error naming the server and the field", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string | null, string]> = [
        [null, null, "(root)"],
        [[1, 2], null, "(root)"],
        [{}, null, "mcpServers"],
        [{ mcpServers: "all of them" }, null, "mcpServers"],
        [{ mcpServers: { a: 42 } }, "a", "(entry)"],
        [{ mcpServers: { a: {} } }, "a", "(entry)"],
        [{ mcpServers: { a: { command: 3 } } }, "a", "command"],
        [{ mcpServers: { a: { command: "  " } } }, "a", "command"],
        [{ mcpServers: { a: { command: "x", args: ["ok", 2] } } }, "a", "args[1]"],
        [{ mcpServers: { a: { command: "x", args: "--flag" } } }, "a", "args"],
        [{ mcpServers: { a: { command: "x", env: { TOKEN: 5 } } } }, "a", "env.TOKEN"],
        [{ mcpServers: { a: { command: "x", cwd: "" } } }, "a", "cwd"],
        [{ mcpServers: { b: { url: "ftp://example.com" } } }, "b", "url"],
        [{ mcpServers: { b: { url: "not a url" } } }, "b", "url"],
        [{ mcpServers: { b: { url: "https://x.dev", headers: ["Authorization"] } } }, "b", "headers"],
        [{ mcpServers: { b: { url: "https://x.dev", headers: { Authorization: false } } } }, "b", "headers.Authorization"],
        [{ mcpServers: { c: { command: "x", url: "https://x.dev" } } }, "c", "url"],
        [{ mcpServers: { c: { type: "sse", url: "https://x.dev/sse" } } }, "c", "type"],
        [{ mcpServers: { c: { type: "websocket", url: "wss://x.dev" } } }, "c", "type"],
        [{ mcpServers: { c: { type: "stdio", url: "https://x.dev" } } }, "c", "command"],
        [{ mcpServers: { c: { command: "x", disabled: "yes" } } }, "c", "disabled"]
      ]
      for (const [input, server, field] of cases) {
        const { error, message } = yield* failure(input)
        assert.strictEqual(error._tag, "McpConfigError")
        assert.strictEqual(error.server, server, JSON.stringify(input))
        assert.strictEqual(error.field, field, JSON.stringify(input))
        assert.include(message, `"${field}"`)
        if (server !== null) assert.include(message, `"${server}"`)
      }
    }))

  it.effect("errors never carry header or environment values", () =>
    Effect.gen(function*() {
      const { message, error } = yield* failure({
        mcpServers: {
          api: { url: "https://x.dev", headers: { Authorization: "Bearer sk-very-secret", "X-Other": 12 } }
        }
      })
      assert.strictEqual(error.field, "headers.X-Other")
      assert.notInclude(message, "sk-very-secret")
      assert.notInclude(JSON.stringify(error), "sk-very-secret")
      const second = yield* failure({ mcpServers: { local: { command: "x", env: { SECRET: ["sk-other-secret"] } } } })
      assert.notInclude(second.message, "sk-other-secret")
    }))

  it.effect("decodeJson refuses text that is not JSON", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(McpConfig.decodeJson("{ \"mcpServers\": { oops"))
      assert.strictEqual(error.field, "(root)")
      assert.include(error.message, "not valid JSON")
      const ok = yield* McpConfig.decodeJson(JSON.stringify({ mcpServers: { m: { command: "memory" } } }))
      assert.strictEqual(ok.servers[0]?.name, "m")
    }))

  it("make refuses two servers with one name", () => {
    assert.throws(() =>
      McpConfig.make([McpConfig.stdio("a", { command: "x" }), McpConfig.http("a", { url: "http://127.0.0.1/" })])
    )
    assert.isTrue(Either.isRight(McpConfig.decodeEither({ mcpServers: {} })))
  })
})
