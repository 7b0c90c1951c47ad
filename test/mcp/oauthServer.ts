// A real OAuth-protected MCP server for the tests, on 127.0.0.1: protected-resource and authorization-server
// metadata, dynamic registration, an authorization endpoint that approves at once (the person's click) and
// redirects with a code, a token endpoint checking PKCE (S256) and issuing refreshable tokens, and an MCP endpoint
// (the SDK's own server, stateless) that answers 401 without a valid token — echoing the bare token it was sent.
import { createHash } from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { Effect } from "effect"

export interface OAuthServer {
  readonly url: string
  /** Access tokens issued so far (the last is current). */
  readonly issued: Array<string>
  readonly grants: Array<string>
  /** Makes every access token issued so far invalid (as if expired). */
  readonly expireTokens: () => void
  /** Refuses refresh tokens from now on. */
  readonly refuseRefresh: () => void
  /** Issues tokens, but the MCP endpoint refuses every one of them from now on (echoing it back). */
  readonly rejectEveryToken: () => void
}

const read = (request: Http.IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = ""
    request.on("data", (chunk) => (body += chunk))
    request.on("end", () => resolve(body))
  })

const json = (response: Http.ServerResponse, status: number, body: unknown) =>
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

export const oauthServer = Effect.acquireRelease(
  Effect.async<{ server: Http.Server; state: OAuthServer }>((resume) => {
    const valid = new Set<string>()
    const refresh = new Set<string>()
    const challenges = new Map<string, string>()
    const state = {
      url: "",
      issued: [] as Array<string>,
      grants: [] as Array<string>,
      refreshAllowed: true,
      rejecting: false,
      rejectEveryToken: () => void (state.rejecting = true),
      expireTokens: () => valid.clear(),
      refuseRefresh: () => void (state.refreshAllowed = false)
    }
    let counter = 0
    const issue = () => {
      counter++
      const access = `at_${counter}_${"x".repeat(8)}${counter}`
      const refreshToken = `rt_${counter}_${"y".repeat(8)}${counter}`
      valid.add(access)
      refresh.add(refreshToken)
      state.issued.push(access)
      return { access_token: access, refresh_token: refreshToken, token_type: "Bearer", expires_in: 3600 }
    }
    const server = Http.createServer(async (request, response) => {
      const base = state.url
      const url = new URL(request.url ?? "/", base)
      const body = await read(request)
      switch (url.pathname) {
        case "/.well-known/oauth-protected-resource/mcp":
        case "/.well-known/oauth-protected-resource":
          return json(response, 200, { resource: `${base}/mcp`, authorization_servers: [base] })
        case "/.well-known/oauth-authorization-server":
          return json(response, 200, {
            issuer: base,
            authorization_endpoint: `${base}/authorize`,
            token_endpoint: `${base}/token`,
            registration_endpoint: `${base}/register`,
            response_types_supported: ["code"],
            grant_types_supported: ["authorization_code", "refresh_token"],
            code_challenge_methods_supported: ["S256"],
            token_endpoint_auth_methods_supported: ["none"]
          })
        case "/register":
          return json(response, 201, { ...JSON.parse(body), client_id: "client_1", token_endpoint_auth_method: "none" })
        case "/authorize": {
          const code = `code_${challenges.size + 1}`
          challenges.set(code, url.searchParams.get("code_challenge") ?? "")
          const redirect = new URL(url.searchParams.get("redirect_uri") ?? "")
          redirect.searchParams.set("code", code)
          redirect.searchParams.set("state", url.searchParams.get("state") ?? "")
          return response.writeHead(302, { location: redirect.toString() }).end()
        }
        case "/token": {
          const form = new URLSearchParams(body)
          const grant = form.get("grant_type") ?? ""
          state.grants.push(grant)
          if (grant === "authorization_code") {
            const challenge = challenges.get(form.get("code") ?? "")
            const verifier = form.get("code_verifier") ?? ""
            const computed = createHash("sha256").update(verifier).digest("base64url")
            if (challenge === undefined || computed !== challenge) return json(response, 400, { error: "invalid_grant" })
            return json(response, 200, issue())
          }
          if (grant === "refresh_token" && state.refreshAllowed && refresh.has(form.get("refresh_token") ?? "")) {
            return json(response, 200, issue())
          }
          return json(response, 400, { error: "invalid_grant" })
        }
        case "/mcp": {
          const sent = (request.headers.authorization ?? "").replace(/^Bearer\s+/i, "")
          if (!valid.has(sent) || state.rejecting) {
            response.writeHead(401, {
              "content-type": "text/plain",
              "www-authenticate": `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`
            })
            return response.end(`token ${sent} is not valid here`)
          }
          const mcp = new McpServer({ name: "protected", version: "1.0.0" })
          mcp.registerTool("whoami", { description: "Says who is calling" }, () => ({
            content: [{ type: "text", text: "an authorized client" }]
          }))
          const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true } as ConstructorParameters<typeof StreamableHTTPServerTransport>[0])
          response.on("close", () => void transport.close())
          await mcp.connect(transport)
          return transport.handleRequest(request, response, body === "" ? undefined : JSON.parse(body))
        }
        default:
          return json(response, 404, { error: "not_found" })
      }
    })
    server.listen(0, "127.0.0.1", () => {
      state.url = `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`
      resume(Effect.succeed({ server, state }))
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)).closeAllConnections())
).pipe(Effect.map(({ state }): OAuthServer => state))
