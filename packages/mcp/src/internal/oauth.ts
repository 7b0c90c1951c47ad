// OAuth for one HTTP server, on the SDK's own machinery: an OAuthClientProvider whose tokens and registration live
// in the TokenStore, and a fetch for the transport that authorizes on 401 (and on 403 insufficient_scope, scope
// step-up) with the SDK's `auth` — discovery (with the 2025-03-26 fallbacks), registration, PKCE, refresh and
// resource checks are the SDK's. For the authorization code grant a person opens the URL (shown through
// `authorize`) and the redirect is received on 127.0.0.1.
import { randomBytes } from "node:crypto"
import * as Http from "node:http"
import { auth, extractWWWAuthenticateParams, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js"
import { createPrivateKeyJwtAuth } from "@modelcontextprotocol/sdk/client/auth-extensions.js"
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import { Cause, Data, Deferred, Duration, Effect, Exit, Option, Redacted, Runtime, Scope } from "effect"
import type * as McpConfig from "../McpConfig.js"
import type * as TokenStore from "../TokenStore.js"
import type { Secrets } from "./redact.js"

/** How many times one request may (re)authorize before its 401 or 403 is given back. */
const maxAuthorizations = 3

/** Authorization did not complete: refused, timed out, or the redirect carried an error. */
export class AuthorizationFailed extends Data.TaggedError("AuthorizationFailed")<{ readonly detail: string }> {
  override get message() {
    return `authorization failed: ${this.detail}`
  }
}

export interface Options {
  readonly server: McpConfig.HttpServer
  readonly oauth: McpConfig.OAuth
  readonly store: TokenStore.Service
  readonly secrets: Secrets
  /** Shows the authorization URL to a person. */
  readonly authorize: (request: { readonly server: string; readonly url: string }) => Effect.Effect<void>
  readonly authorizationTimeout: Duration.Duration
}

// The redirect listener on 127.0.0.1: resolves the pending authorization whose `state` the redirect carries.
const listen = (port: number, pending: Map<string, Deferred.Deferred<string, AuthorizationFailed>>) =>
  Effect.acquireRelease(
    Effect.async<Http.Server, AuthorizationFailed>((resume) => {
      const server = Http.createServer((request, response) => {
        const url = new URL(request.url ?? "/", "http://127.0.0.1")
        const state = url.searchParams.get("state") ?? ""
        const waiting = pending.get(state)
        const code = url.searchParams.get("code")
        const error = url.searchParams.get("error")
        if (url.pathname !== "/callback" || waiting === undefined || (code === null && error === null)) {
          response.writeHead(400, { "content-type": "text/plain" }).end("Unknown or expired authorization.")
          return
        }
        pending.delete(state)
        if (code !== null) Deferred.unsafeDone(waiting, Effect.succeed(code))
        else {
          const description = url.searchParams.get("error_description")
          Deferred.unsafeDone(waiting, Effect.fail(new AuthorizationFailed({ detail: `${error}${description ? `: ${description}` : ""}` })))
        }
        response.writeHead(200, { "content-type": "text/plain" }).end("Authorized. You may close this window.")
      })
      server.once("error", (error) => resume(Effect.fail(new AuthorizationFailed({ detail: `redirect listener: ${error.message}` }))))
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)).closeAllConnections())
  )

/** The fetch the transport uses: authorized requests, authorization on demand. Lives in the connection's scope. */
export const make = (options: Options): Effect.Effect<FetchLike, AuthorizationFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const { oauth, secrets, server, store } = options
    const runtime = yield* Effect.runtime<never>()
    // Runs an effect for the SDK: it rejects with the error itself (not a FiberFailure), as the SDK expects.
    const run = <A, E>(effect: Effect.Effect<A, E>, signal?: AbortSignal | null): Promise<A> =>
      Runtime.runPromiseExit(runtime)(effect, signal == null ? undefined : { signal }).then((exit) => {
        if (Exit.isSuccess(exit)) return exit.value
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) throw failure.value
        const defect = Cause.dieOption(exit.cause)
        if (Option.isSome(defect)) throw defect.value
        throw new DOMException("The operation was aborted.", "AbortError")
      })
    const key = `${server.name} ${server.url}`
    const pending = new Map<string, Deferred.Deferred<string, AuthorizationFailed>>()
    const interactive = oauth.grant === "authorization_code"
    const listener = interactive ? yield* listen(oauth.redirectPort ?? 0, pending) : undefined
    const address = listener?.address()
    const redirectUrl = typeof address === "object" && address !== null ? `http://127.0.0.1:${address.port}/callback` : undefined
    const method = oauth.clientAuth ?? (oauth.clientSecret !== undefined ? "client_secret_basic" : "none")
    const metadata: OAuthClientMetadata = {
      client_name: oauth.clientName ?? "chorus",
      redirect_uris: redirectUrl === undefined ? [] : [redirectUrl],
      grant_types: interactive ? ["authorization_code", "refresh_token"] : ["client_credentials"],
      response_types: interactive ? ["code"] : [],
      token_endpoint_auth_method: method,
      ...(oauth.scope === undefined ? {} : { scope: oauth.scope })
    }
    const preRegistered: OAuthClientInformationMixed | undefined = oauth.clientId === undefined ? undefined : {
      client_id: oauth.clientId,
      ...(oauth.clientSecret === undefined ? {} : { client_secret: Redacted.value(oauth.clientSecret) })
    }
    let verifier = ""
    let code: Deferred.Deferred<string, AuthorizationFailed> | undefined

    const provider: OAuthClientProvider = {
      get redirectUrl() {
        return redirectUrl
      },
      get clientMetadata() {
        return metadata
      },
      ...(oauth.clientMetadataUrl === undefined ? {} : { clientMetadataUrl: oauth.clientMetadataUrl }),
      // The state guards the redirect listener against forged redirects: it must be unguessable (not Random).
      state: () => randomBytes(24).toString("base64url"),
      clientInformation: async () =>
        preRegistered ?? Option.getOrUndefined(Option.map((await run(store.get(key))).client, Redacted.value)),
      saveClientInformation: (info) => {
        if (info.client_secret !== undefined) secrets.add(info.client_secret)
        return run(store.update(key, (entry) => ({ ...entry, client: Option.some(Redacted.make(info)) })))
      },
      tokens: async () => {
        const tokens = Option.getOrUndefined(Option.map((await run(store.get(key))).tokens, Redacted.value))
        if (tokens !== undefined) rememberTokens(tokens)
        return tokens
      },
      saveTokens: (tokens) => {
        rememberTokens(tokens)
        return run(store.update(key, (entry) => ({ ...entry, tokens: Option.some(Redacted.make(tokens)) })))
      },
      redirectToAuthorization: (url) =>
        run(Effect.gen(function*() {
          const waiting = yield* Deferred.make<string, AuthorizationFailed>()
          pending.set(url.searchParams.get("state") ?? "", waiting)
          code = waiting
          yield* options.authorize({ server: server.name, url: url.toString() })
        })),
      saveCodeVerifier: (value) => {
        verifier = value
      },
      codeVerifier: () => verifier,
      invalidateCredentials: (scope) =>
        run(store.update(key, (entry) => ({
          tokens: scope === "all" || scope === "tokens" ? Option.none() : entry.tokens,
          client: scope === "all" || scope === "client" ? Option.none() : entry.client
        }))),
      ...(interactive ? {} : {
        prepareTokenRequest: (scope?: string) => {
          const params = new URLSearchParams({ grant_type: "client_credentials" })
          if (scope !== undefined) params.set("scope", scope)
          return params
        }
      }),
      ...(method === "private_key_jwt" && oauth.privateKey !== undefined && oauth.clientId !== undefined
        ? {
          addClientAuthentication: createPrivateKeyJwtAuth({
            issuer: oauth.clientId,
            subject: oauth.clientId,
            privateKey: Redacted.value(oauth.privateKey),
            alg: oauth.signingAlgorithm ?? "ES256"
          })
        }
        : {})
    }

    function rememberTokens(tokens: OAuthTokens) {
      secrets.add(tokens.access_token)
      if (tokens.refresh_token !== undefined) secrets.add(tokens.refresh_token)
    }

    // One authorization: the SDK's `auth`; when it needs a person, wait for the redirect, then exchange the code.
    const authorize = (challenge: ReturnType<typeof extractWWWAuthenticateParams>) =>
      Effect.gen(function*() {
        const params = {
          serverUrl: server.url,
          ...(challenge.resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl: challenge.resourceMetadataUrl }),
          ...(challenge.scope === undefined ? {} : { scope: challenge.scope }),
          fetchFn: fetch
        }
        const first = yield* Effect.tryPromise({
          try: () => auth(provider, params),
          catch: (error) => new AuthorizationFailed({ detail: secrets.scrub(error instanceof Error ? error.message : String(error)) })
        })
        if (first === "AUTHORIZED") return
        const waiting = code
        if (waiting === undefined) return yield* new AuthorizationFailed({ detail: "no authorization URL was produced" })
        const authorizationCode = yield* Deferred.await(waiting).pipe(
          Effect.timeoutFail({
            duration: options.authorizationTimeout,
            onTimeout: () =>
              new AuthorizationFailed({ detail: `nobody authorized within ${Duration.format(options.authorizationTimeout)}` })
          })
        )
        const second = yield* Effect.tryPromise({
          try: () => auth(provider, { ...params, authorizationCode }),
          catch: (error) => new AuthorizationFailed({ detail: secrets.scrub(error instanceof Error ? error.message : String(error)) })
        })
        if (second !== "AUTHORIZED") return yield* new AuthorizationFailed({ detail: "the authorization code was not accepted" })
      })

    const authorizedFetch: FetchLike = (input, init) =>
      run(
        Effect.gen(function*() {
          for (let attempt = 0;; attempt++) {
            const headers = new Headers(init?.headers)
            const tokens = yield* Effect.promise(async () => provider.tokens())
            if (tokens !== undefined) headers.set("authorization", `Bearer ${tokens.access_token}`)
            const response = yield* Effect.tryPromise({ try: () => fetch(input, { ...init, headers }), catch: (error) => error })
            const challenge = extractWWWAuthenticateParams(response)
            const again = response.status === 401 ||
              (response.status === 403 && challenge.error === "insufficient_scope")
            if (!again || attempt >= maxAuthorizations) return response
            yield* Effect.promise(() => response.body?.cancel() ?? Promise.resolve())
            yield* authorize(challenge)
          }
        }),
        init?.signal
      )
    return authorizedFetch
  })
