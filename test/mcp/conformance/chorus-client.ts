// The conformance suite's client, written only on @chorus/mcp's public API (McpConfig, McpClient, TokenStore).
// The suite runs it as `<command> <server-url>` with the scenario in MCP_CONFORMANCE_SCENARIO and, for some
// scenarios, credentials in MCP_CONFORMANCE_CONTEXT. The person who authorizes (OAuth authorization code) is played
// by `authorize`: it opens the URL like a browser would and follows the redirect to the client's 127.0.0.1 listener.
import { Effect, Schema } from "effect"
import { McpClient, McpConfig, TokenStore } from "@chorus/mcp"

const serverUrl = process.argv[process.argv.length - 1] ?? ""
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? ""

const Context = Schema.parseJson(Schema.Struct({
  client_id: Schema.optional(Schema.String),
  client_secret: Schema.optional(Schema.String),
  private_key_pem: Schema.optional(Schema.String),
  signing_algorithm: Schema.optional(Schema.String)
}))

const oauthFor = (context: typeof Context.Type): McpConfig.OAuthOptions => {
  switch (scenario) {
    case "auth/client-credentials-basic":
      return { grant: "client_credentials", clientId: context.client_id, clientSecret: context.client_secret }
    case "auth/client-credentials-jwt":
      return {
        grant: "client_credentials",
        clientId: context.client_id,
        clientAuth: "private_key_jwt",
        privateKey: context.private_key_pem,
        signingAlgorithm: context.signing_algorithm
      }
    case "auth/pre-registration":
      return { clientId: context.client_id, clientSecret: context.client_secret }
    default:
      return { clientName: "chorus-conformance", clientMetadataUrl: "https://conformance-test.local/client-metadata.json" }
  }
}

// The person at the browser: the authorization server answers with a redirect to our listener.
const authorize = (request: McpClient.AuthorizationRequest) =>
  Effect.promise(async () => {
    const response = await fetch(request.url, { redirect: "manual" })
    const location = response.headers.get("location")
    if (location !== null) await fetch(location)
  })

const program = Effect.gen(function*() {
  const context = yield* Schema.decodeUnknown(Context)(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}")
  const config = McpConfig.make([
    McpConfig.http("server", {
      url: serverUrl,
      ...(scenario.startsWith("auth/") ? { oauth: oauthFor(context) } : {})
    })
  ])
  const client = yield* McpClient.make(config, {
    authorize,
    tokenStore: yield* TokenStore.makeMemory,
    // In code: accept with nothing filled in; the client completes the form with its defaults (SEP-1034).
    ...(scenario.startsWith("elicitation") ? { elicitation: () => Effect.succeed({ action: "accept" as const, content: {} }) } : {})
  })
  const failure = client.startupFailures[0]
  if (failure !== undefined) return yield* failure
  for (const { server, tool } of yield* client.tools) yield* client.callTool(server, tool.name, {})
}).pipe(Effect.scoped)

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") console.error(String(exit.cause))
  process.exit(exit._tag === "Success" ? 0 : 1)
})
