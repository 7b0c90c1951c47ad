// OAuth against a real protected MCP server on 127.0.0.1 (oauthServer.ts): the authorization URL is published in
// the environment, a person opens it, the redirect comes back to the client's 127.0.0.1 listener; tokens are kept
// in the file TokenStore (0600), refreshed on 401, and never appear in events, errors or logs.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Environment, Event } from "@chorus/core"
import { McpClient, McpConfig, McpEnvironment, TokenStore } from "@chorus/mcp"
import { Effect, Fiber, Queue } from "effect"
import { oauthServer } from "./oauthServer.js"
import * as Servers from "./servers.js"

const isAuthorization = (event: Event.Event): event is Event.Event & { payload: Event.AuthorizationRequested } =>
  event.payload._tag === "AuthorizationRequested"

// The person: opens the URL (the authorization server approves at once) and the browser follows the redirect.
const openInBrowser = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual" })
    const location = response.headers.get("location") ?? ""
    const landing = await fetch(location)
    return { location, page: await landing.text() }
  })

const allEvents = (env: Environment.Service) =>
  env.snapshot({ initial: [] as ReadonlyArray<Event.Event>, reduce: (all, event) => [...all, event] })

describe("OAuth for HTTP servers", () => {
  it.live("authorization code with PKCE: the URL goes through the environment, the redirect to 127.0.0.1; refresh on 401", () =>
    Effect.gen(function*() {
      const server = yield* oauthServer
      const directory = yield* Servers.tempDirectory
      const tokenFile = Path.join(directory, "tokens.json")
      const { layer, lines } = yield* Servers.captureLogs
      const env = yield* Environment.Environment
      const handlers = yield* McpEnvironment.options()
      const config = McpConfig.make([McpConfig.http("protected", { url: `${server.url}/mcp`, oauth: true })])
      const connecting = yield* Effect.fork(
        McpClient.make(config, { ...handlers, tokenStore: yield* TokenStore.makeFile(tokenFile) }).pipe(Effect.provide(layer))
      )
      const requested = yield* env.waitFor(isAuthorization)
      assert.strictEqual(requested.payload.server, "protected")
      const url = new URL(requested.payload.url)
      assert.strictEqual(`${url.origin}${url.pathname}`, `${server.url}/authorize`)
      assert.strictEqual(url.searchParams.get("code_challenge_method"), "S256")
      assert.match(url.searchParams.get("redirect_uri") ?? "", /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
      assert.strictEqual(url.searchParams.get("resource"), `${server.url}/mcp`)

      const { page } = yield* openInBrowser(requested.payload.url)
      assert.include(page, "Authorized")
      const client = yield* Fiber.join(connecting)
      assert.deepStrictEqual(client.startupFailures, [])
      const result = yield* client.callTool("protected", "whoami", {}).pipe(Effect.provide(layer))
      assert.deepStrictEqual(result.content, [{ type: "text", text: "an authorized client" }])

      // The token expires: the next request gets 401, the client refreshes without asking anybody.
      server.expireTokens()
      yield* client.callTool("protected", "whoami", {}).pipe(Effect.provide(layer))
      assert.deepStrictEqual(server.grants, ["authorization_code", "refresh_token"])
      assert.strictEqual((yield* allEvents(env)).filter(isAuthorization).length, 1)

      // Kept in a file only its owner may read; nowhere else.
      assert.strictEqual(Fs.statSync(tokenFile).mode & 0o777, 0o600)
      assert.include(Fs.readFileSync(tokenFile, "utf8"), server.issued.at(-1)!)
      const published = JSON.stringify(yield* allEvents(env))
      const logged = Array.from(yield* Queue.takeAll(lines)).map((line) => line.message).join("\n")
      for (const token of server.issued) {
        assert.notInclude(published, token)
        assert.notInclude(logged, token)
      }
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("a server that refuses every token and echoes it: a typed error, the tokens nowhere", () =>
    Effect.gen(function*() {
      const server = yield* oauthServer
      const { layer, lines } = yield* Servers.captureLogs
      const env = yield* Environment.Environment
      const handlers = yield* McpEnvironment.options()
      const config = McpConfig.make([McpConfig.http("protected", { url: `${server.url}/mcp`, oauth: true })])
      const connecting = yield* Effect.fork(
        McpClient.make(config, { ...handlers, tokenStore: yield* TokenStore.makeMemory }).pipe(Effect.provide(layer))
      )
      yield* openInBrowser((yield* env.waitFor(isAuthorization)).payload.url)
      const client = yield* Fiber.join(connecting)
      server.rejectEveryToken()
      const error = yield* Effect.flip(client.callTool("protected", "whoami", {}).pipe(Effect.provide(layer)))
      assert.strictEqual(error.reason, "unauthorized")
      assert.include(error.message, "401")
      assert.include(error.message, "token <redacted> is not valid here")
      const written = [
        error.message,
        JSON.stringify(error),
        String(error.cause),
        JSON.stringify(yield* client.status),
        JSON.stringify(yield* allEvents(env)),
        ...Array.from(yield* Queue.takeAll(lines)).map((line) => line.message)
      ].join("\n")
      // Refreshed (a new token each time) up to the limit, then given up.
      assert.isAbove(server.issued.length, 2)
      for (const token of server.issued) assert.notInclude(written, token)
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("a refused refresh and nobody to authorize: a typed error, the echoed token nowhere", () =>
    Effect.gen(function*() {
      const server = yield* oauthServer
      const { layer, lines } = yield* Servers.captureLogs
      const env = yield* Environment.Environment
      const handlers = yield* McpEnvironment.options()
      const config = McpConfig.make([McpConfig.http("protected", { url: `${server.url}/mcp`, oauth: true })])
      const connecting = yield* Effect.fork(
        McpClient.make(config, { ...handlers, tokenStore: yield* TokenStore.makeMemory, authorizationTimeout: "1 second" })
          .pipe(Effect.provide(layer))
      )
      yield* openInBrowser((yield* env.waitFor(isAuthorization)).payload.url)
      const client = yield* Fiber.join(connecting)
      server.expireTokens()
      server.refuseRefresh()
      const error = yield* Effect.flip(client.callTool("protected", "whoami", {}).pipe(Effect.provide(layer)))
      assert.strictEqual(error.reason, "unauthorized")
      assert.include(error.message, "nobody authorized within 1s")
      const written = [
        error.message,
        JSON.stringify(error),
        String(error.cause),
        JSON.stringify(yield* client.status),
        JSON.stringify(yield* allEvents(env)),
        ...Array.from(yield* Queue.takeAll(lines)).map((line) => line.message)
      ].join("\n")
      assert.isAbove(server.issued.length, 0)
      for (const token of server.issued) assert.notInclude(written, token)
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))
})
