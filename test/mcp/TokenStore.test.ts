import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { McpConfig, TokenStore } from "@chorus/mcp"
import { Effect, Option, Redacted } from "effect"
import * as Servers from "./servers.js"

const tokens = { access_token: "at-0123456789abcdef", token_type: "bearer", refresh_token: "rt-fedcba9876543210" }

describe("TokenStore", () => {
  it.live("the file store keeps tokens in a file readable by its owner only; values are Redacted in memory", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const path = Path.join(directory, "nested", "tokens.json")
      const store = yield* TokenStore.makeFile(path)
      yield* store.update("server https://x", (entry) => ({ ...entry, tokens: Option.some(Redacted.make(tokens)) }))
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o600)
      const entry = yield* (yield* TokenStore.makeFile(path)).get("server https://x")
      assert.isTrue(Option.isSome(entry.tokens))
      assert.strictEqual(Option.map(entry.tokens, Redacted.value).pipe(Option.getOrThrow).access_token, tokens.access_token)
      assert.notInclude(`${String(entry.tokens)} ${JSON.stringify(entry)}`, tokens.access_token)
      // A file that existed with wider permissions is narrowed on the next write.
      Fs.chmodSync(path, 0o644)
      yield* store.update("other", (entry) => entry)
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o600)
      assert.isTrue(Option.isNone((yield* store.get("unknown")).tokens))
    }).pipe(Effect.scoped))

  it.live("a garbage token file is a typed error naming the file, never its contents", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const path = Path.join(directory, "tokens.json")
      Fs.writeFileSync(path, `{"a": {"tokens": "secret-but-not-an-object-xyz"}`, { mode: 0o600 })
      const error = yield* Effect.flip((yield* TokenStore.makeFile(path)).get("a"))
      assert.strictEqual(error._tag, "TokenStoreError")
      assert.include(error.message, path)
      assert.notInclude(error.message, "secret-but-not")
    }).pipe(Effect.scoped))
})

describe("McpConfig: OAuth", () => {
  it.effect("decodes OAuth settings with secrets Redacted; refuses incomplete ones naming the field", () =>
    Effect.gen(function*() {
      const config = yield* McpConfig.decode({
        mcpServers: {
          interactive: { url: "https://mcp.example.com/mcp", oauth: true },
          machine: {
            url: "https://api.example.com/mcp",
            oauth: { grant: "client_credentials", clientId: "svc", clientSecret: "cs-very-secret", scope: "read" }
          }
        }
      })
      const [interactive, machine] = config.servers
      assert.strictEqual(interactive?._tag === "HttpServer" ? interactive.oauth?.grant : null, "authorization_code")
      if (machine?._tag !== "HttpServer" || machine.oauth === undefined) return assert.fail("no oauth")
      assert.strictEqual(Redacted.value(machine.oauth.clientSecret!), "cs-very-secret")
      assert.notInclude(JSON.stringify(config), "cs-very-secret")

      const missing = yield* Effect.flip(McpConfig.decode({
        mcpServers: { m: { url: "https://x.example/mcp", oauth: { grant: "client_credentials" } } }
      }))
      assert.strictEqual(missing.field, "oauth.clientId")
      const jwt = yield* Effect.flip(McpConfig.decode({
        mcpServers: { m: { url: "https://x.example/mcp", oauth: { clientId: "c", clientAuth: "private_key_jwt" } } }
      }))
      assert.strictEqual(jwt.field, "oauth.privateKey")
      const garbage = yield* Effect.flip(McpConfig.decode({
        mcpServers: { m: { url: "https://x.example/mcp", oauth: { grant: "implicit", clientSecret: 42 } } }
      }))
      assert.strictEqual(garbage.server, "m")
      assert.include(garbage.field, "oauth")
      const port = yield* Effect.flip(McpConfig.decode({
        mcpServers: { m: { url: "https://x.example/mcp", oauth: { redirectPort: 70000 } } }
      }))
      assert.strictEqual(port.field, "oauth.redirectPort")
    }))
})
