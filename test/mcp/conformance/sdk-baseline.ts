// The baseline: a minimal client written directly on @modelcontextprotocol/sdk, run by the conformance suite exactly
// like chorus-client.ts. The scenarios it passes are the target for the client built on @chorus/mcp.
// Usage (by the suite): node sdk-baseline.ts <server-url>, scenario in MCP_CONFORMANCE_SCENARIO.
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { auth, extractWWWAuthenticateParams, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js"
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"

const serverUrl = process.argv[process.argv.length - 1]!
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? ""
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as Record<string, string>
const redirect = "http://localhost:3000/callback"

class MemoryProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ""
  code: string | undefined
  constructor(readonly clientMetadataUrl: string) {}
  get redirectUrl() { return redirect }
  get clientMetadata() { return { client_name: "sdk-baseline", redirect_uris: [redirect] } }
  clientInformation() { return this.info }
  saveClientInformation(info: OAuthClientInformationMixed) { this.info = info }
  tokens() { return this.saved }
  saveTokens(tokens: OAuthTokens) { this.saved = tokens }
  async redirectToAuthorization(url: URL) {
    const response = await fetch(url, { redirect: "manual" })
    this.code = new URL(response.headers.get("location")!).searchParams.get("code") ?? undefined
  }
  saveCodeVerifier(verifier: string) { this.verifier = verifier }
  codeVerifier() { return this.verifier }
}

// 401 and 403 insufficient_scope: authorize (following the redirect in-line), then retry, at most 3 times.
const oauthFetch = (provider: MemoryProvider): typeof fetch => async (input, init) => {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(init?.headers)
    const tokens = provider.tokens()
    if (tokens) headers.set("authorization", `Bearer ${tokens.access_token}`)
    const response = await fetch(input, { ...init, headers })
    const params = extractWWWAuthenticateParams(response)
    const retry = response.status === 401 || (response.status === 403 && params.error === "insufficient_scope")
    if (!retry || attempt >= 3) return response
    const options = {
      serverUrl,
      ...(params.resourceMetadataUrl ? { resourceMetadataUrl: params.resourceMetadataUrl } : {}),
      ...(params.scope ? { scope: params.scope } : {})
    }
    if ((await auth(provider, options)) === "REDIRECT") {
      await auth(provider, { ...options, authorizationCode: provider.code! })
    }
  }
}

const main = async () => {
  const elicitation = scenario.startsWith("elicitation")
  const client = new Client({ name: "sdk-baseline", version: "1.0.0" }, {
    capabilities: elicitation ? { elicitation: { form: { applyDefaults: true } } } : {}
  })
  if (elicitation) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: {} }))
  let transport: StreamableHTTPClientTransport
  if (scenario === "auth/client-credentials-jwt") {
    transport = new StreamableHTTPClientTransport(new URL(serverUrl), {
      authProvider: new PrivateKeyJwtProvider({
        clientId: context.client_id!,
        privateKey: context.private_key_pem!,
        algorithm: context.signing_algorithm ?? "ES256"
      })
    })
  } else if (scenario === "auth/client-credentials-basic") {
    transport = new StreamableHTTPClientTransport(new URL(serverUrl), {
      authProvider: new ClientCredentialsProvider({ clientId: context.client_id!, clientSecret: context.client_secret! })
    })
  } else if (scenario.startsWith("auth/")) {
    const provider = new MemoryProvider("https://conformance-test.local/client-metadata.json")
    if (scenario === "auth/pre-registration") {
      provider.info = { client_id: context.client_id!, client_secret: context.client_secret! }
    }
    transport = new StreamableHTTPClientTransport(new URL(serverUrl), { fetch: oauthFetch(provider) })
  } else {
    transport = new StreamableHTTPClientTransport(new URL(serverUrl))
  }
  await client.connect(transport)
  const { tools } = await client.listTools()
  for (const tool of tools) await client.callTool({ name: tool.name, arguments: {} })
  await transport.close()
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
