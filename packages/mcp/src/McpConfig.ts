/**
 * MCP server configuration: the common `mcpServers` JSON shape, decoded to a
 * typed configuration.
 *
 * ```json
 * {
 *   "mcpServers": {
 *     "filesystem": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
 *     "search": { "url": "https://example.com/mcp", "headers": { "Authorization": "Bearer ..." } }
 *   }
 * }
 * ```
 *
 * An entry with `command` is a stdio server (a child process), an entry with
 * `url` a Streamable HTTP server. `type` may say so explicitly (`"stdio"`,
 * `"http"`, `"streamable-http"`, `"streamableHttp"`); `"sse"` is refused (the
 * deprecated transport is not supported). `disabled: true` skips an entry.
 * Fields other clients add (`alwaysAllow`, `autoApprove`, ...) are ignored.
 *
 * Header and environment values often hold secrets, so they are decoded as
 * `Redacted` and never appear in errors: a {@link McpConfigError} names the
 * server and the field, never the value.
 *
 * @since 0.1.0
 */
import { Effect, Either, ParseResult, Redacted, Schema } from "effect"
import * as Entries from "./internal/configEntries.js"

// ---------------------------------------------------------------------------
// Typed configuration
// ---------------------------------------------------------------------------

/** A server launched as a child process and spoken to over its stdin/stdout. */
export class StdioServer extends Schema.TaggedClass<StdioServer>()("StdioServer", {
  name: Schema.String,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  /** Added to a minimal inherited environment (`HOME`, `PATH`, ...), as the MCP SDK does. */
  env: Schema.Record({ key: Schema.String, value: Schema.RedactedFromSelf(Schema.String) }),
  cwd: Schema.optionalWith(Schema.String, { exact: true })
}) {}

/** How a client authenticates at the token endpoint. */
export const ClientAuth = Entries.ClientAuth
export type ClientAuth = typeof ClientAuth.Type

/**
 * OAuth for an HTTP server. `authorization_code` (the default): a person opens the authorization URL (published
 * in the environment) and the redirect is received on 127.0.0.1; the client registers itself dynamically unless a
 * `clientId` is given (or uses `clientMetadataUrl` where the server accepts client ID metadata documents).
 * `client_credentials`: machine to machine, with a client secret or a private key (`private_key_jwt`).
 */
export class OAuth extends Schema.Class<OAuth>("OAuth")({
  grant: Schema.Literal("authorization_code", "client_credentials"),
  clientId: Schema.optionalWith(Schema.String, { exact: true }),
  clientSecret: Schema.optionalWith(Schema.RedactedFromSelf(Schema.String), { exact: true }),
  clientAuth: Schema.optionalWith(ClientAuth, { exact: true }),
  /** A PEM private key, for `private_key_jwt`. */
  privateKey: Schema.optionalWith(Schema.RedactedFromSelf(Schema.String), { exact: true }),
  /** The JWS algorithm of `private_key_jwt` assertions. Default ES256. */
  signingAlgorithm: Schema.optionalWith(Schema.String, { exact: true }),
  clientMetadataUrl: Schema.optionalWith(Schema.String, { exact: true }),
  clientName: Schema.optionalWith(Schema.String, { exact: true }),
  scope: Schema.optionalWith(Schema.String, { exact: true }),
  /** The local port of the redirect listener (127.0.0.1). Default: any free port. */
  redirectPort: Schema.optionalWith(Schema.Int, { exact: true })
}) {}

/** A server reached over Streamable HTTP. */
export class HttpServer extends Schema.TaggedClass<HttpServer>()("HttpServer", {
  name: Schema.String,
  url: Schema.String,
  headers: Schema.Record({ key: Schema.String, value: Schema.RedactedFromSelf(Schema.String) }),
  oauth: Schema.optionalWith(OAuth, { exact: true })
}) {}

/** One configured server. */
export type Server = StdioServer | HttpServer

/** The decoded configuration: the enabled servers, in the order of the file. */
export interface McpConfig {
  readonly servers: ReadonlyArray<Server>
}

/** The configuration is not valid; names the server (when the problem is inside one) and the field, never a value. */
export class McpConfigError extends Schema.TaggedError<McpConfigError>()("McpConfigError", {
  server: Schema.NullOr(Schema.String),
  field: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return this.server === null
      ? `Invalid MCP configuration: "${this.field}" ${this.problem}`
      : `Invalid MCP configuration for server "${this.server}": "${this.field}" ${this.problem}`
  }
}

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

const redactAll = (values: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined) =>
  Object.fromEntries(
    Object.entries(values ?? {}).map(([key, value]) => [key, Redacted.isRedacted(value) ? value : Redacted.make(value)])
  )

/**
 * A stdio server, for configuration written in code.
 *
 * @example
 * import { McpConfig } from "@chorus/mcp"
 *
 * const config = McpConfig.make([
 *   McpConfig.stdio("memory", { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] })
 * ])
 */
export const stdio = (
  name: string,
  options: {
    readonly command: string
    readonly args?: ReadonlyArray<string> | undefined
    readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
    readonly cwd?: string | undefined
  }
): StdioServer =>
  new StdioServer({
    name,
    command: options.command,
    args: options.args ?? [],
    env: redactAll(options.env),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd })
  })

/** A Streamable HTTP server, for configuration written in code. */
export const http = (
  name: string,
  options: {
    readonly url: string
    readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
    /** OAuth; `true` for the authorization code grant with dynamic client registration. */
    readonly oauth?: OAuthOptions | true | undefined
  }
): HttpServer =>
  new HttpServer({
    name,
    url: options.url,
    headers: redactAll(options.headers),
    ...(options.oauth === undefined ? {} : { oauth: oauthOf(options.oauth) })
  })

/** OAuth options in code: secrets as strings or `Redacted`. */
export interface OAuthOptions {
  readonly grant?: "authorization_code" | "client_credentials" | undefined
  readonly clientId?: string | undefined
  readonly clientSecret?: string | Redacted.Redacted<string> | undefined
  readonly clientAuth?: ClientAuth | undefined
  readonly privateKey?: string | Redacted.Redacted<string> | undefined
  readonly signingAlgorithm?: string | undefined
  readonly clientMetadataUrl?: string | undefined
  readonly clientName?: string | undefined
  readonly scope?: string | undefined
  readonly redirectPort?: number | undefined
}

const secret = (value: string | Redacted.Redacted<string>) => Redacted.isRedacted(value) ? value : Redacted.make(value)

const oauthOf = (options: OAuthOptions | true): OAuth => {
  if (options === true) return new OAuth({ grant: "authorization_code" })
  const fields = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
  return new OAuth({
    ...fields,
    grant: options.grant ?? "authorization_code",
    ...(options.clientSecret === undefined ? {} : { clientSecret: secret(options.clientSecret) }),
    ...(options.privateKey === undefined ? {} : { privateKey: secret(options.privateKey) })
  })
}

/** A configuration from servers written in code. Server names must be unique. */
export const make = (servers: ReadonlyArray<Server>): McpConfig => {
  const seen = new Set<string>()
  for (const server of servers) {
    if (seen.has(server.name)) throw new Error(`McpConfig.make: two servers are named "${server.name}"`)
    seen.add(server.name)
  }
  return { servers }
}

// ---------------------------------------------------------------------------
// The wire shape
// ---------------------------------------------------------------------------

/** The encoded shape of one server entry, as written in `mcpServers`. */
export interface ServerEntryEncoded {
  readonly type?: string
  readonly command?: string
  readonly args?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  readonly url?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly oauth?: true | OAuthEncoded
  readonly disabled?: boolean
}

/** The encoded shape of a server's OAuth settings. */
export interface OAuthEncoded {
  readonly grant?: "authorization_code" | "client_credentials"
  readonly clientId?: string
  readonly clientSecret?: string
  readonly clientAuth?: ClientAuth
  readonly privateKey?: string
  readonly signingAlgorithm?: string
  readonly clientMetadataUrl?: string
  readonly clientName?: string
  readonly scope?: string
  readonly redirectPort?: number
}

/** The encoded shape of a configuration file. */
export interface McpConfigEncoded {
  readonly mcpServers: Readonly<Record<string, ServerEntryEncoded>>
}

const decodeEntry = (name: string, entry: unknown): Either.Either<Server | null, McpConfigError> => {
  const fail = (field: string, problem: string) => Either.left(new McpConfigError({ server: name, field, problem }))
  const parse = <A, I>(schema: Schema.Schema<A, I>, value: unknown): Either.Either<A, McpConfigError> =>
    Either.mapLeft(Schema.decodeUnknownEither(schema, { errors: "first" })(value), (error) => {
      const { path, problem } = Entries.firstProblem(error.issue, [])
      return new McpConfigError({ server: name, field: Entries.fieldOf(path), problem })
    })
  if (name.trim() === "") {
    return Either.left(new McpConfigError({ server: null, field: "mcpServers", problem: "has a server with an empty name" }))
  }
  if (!Entries.isRecord(entry)) {
    return fail("(entry)", "must be an object with \"command\" (stdio) or \"url\" (Streamable HTTP)")
  }
  const common = parse(Entries.Common, entry)
  if (Either.isLeft(common)) return Either.left(common.left)
  if (common.right.disabled === true) return Either.right(null)
  const type = common.right.type
  const hasCommand = "command" in entry
  const hasUrl = "url" in entry
  if (type === "sse") return fail("type", "is \"sse\": the SSE transport is not supported, use Streamable HTTP")
  if (type !== undefined && !["stdio", "http", "streamable-http", "streamableHttp"].includes(type)) {
    return fail("type", "must be \"stdio\", \"http\", \"streamable-http\" or \"streamableHttp\"")
  }
  if (hasCommand && hasUrl) return fail("url", "cannot be given together with \"command\": choose stdio or HTTP")
  const stdioWanted = type === "stdio" || (type === undefined && hasCommand)
  const httpWanted = (type !== undefined && type !== "stdio") || (type === undefined && hasUrl)
  if (stdioWanted) {
    if (!hasCommand) return fail("command", "is required")
    return Either.map(parse(Entries.StdioEntry, entry), (decoded) =>
      new StdioServer({
        name,
        command: decoded.command,
        args: decoded.args ?? [],
        env: decoded.env ?? {},
        ...(decoded.cwd === undefined ? {} : { cwd: decoded.cwd })
      }))
  }
  if (httpWanted) {
    if (!hasUrl) return fail("url", "is required")
    // `"oauth": true` is the authorization code grant with every default.
    const withOAuth = entry.oauth === true ? { ...entry, oauth: {} } : entry
    return Either.flatMap(parse(Entries.HttpEntry, withOAuth), (decoded) => {
      const oauth = decoded.oauth === undefined ? undefined : oauthOf(decoded.oauth)
      if (oauth?.grant === "client_credentials" && oauth.clientId === undefined) {
        return fail("oauth.clientId", "is required for the client_credentials grant")
      }
      if (oauth?.clientAuth === "private_key_jwt" && oauth.privateKey === undefined) {
        return fail("oauth.privateKey", "is required for private_key_jwt")
      }
      return Either.right(
        new HttpServer({ name, url: decoded.url, headers: decoded.headers ?? {}, ...(oauth === undefined ? {} : { oauth }) })
      )
    })
  }
  return fail("(entry)", "needs \"command\" (stdio) or \"url\" (Streamable HTTP)")
}

/** Decodes a configuration (the parsed `mcpServers` JSON) synchronously, as an `Either`. */
export const decodeEither = (input: unknown): Either.Either<McpConfig, McpConfigError> => {
  if (!Entries.isRecord(input)) {
    return Either.left(new McpConfigError({ server: null, field: "(root)", problem: "must be an object" }))
  }
  const servers = input.mcpServers
  if (servers === undefined) {
    return Either.left(new McpConfigError({ server: null, field: "mcpServers", problem: "is required" }))
  }
  if (!Entries.isRecord(servers)) {
    return Either.left(
      new McpConfigError({ server: null, field: "mcpServers", problem: "must be an object of servers by name" })
    )
  }
  const decoded: Array<Server> = []
  for (const [name, entry] of Object.entries(servers)) {
    const server = decodeEntry(name, entry)
    if (Either.isLeft(server)) return Either.left(server.left)
    if (server.right !== null) decoded.push(server.right)
  }
  return Either.right({ servers: decoded })
}

/**
 * Decodes a configuration (the parsed `mcpServers` JSON).
 *
 * @example
 * import { Effect } from "effect"
 * import { McpConfig } from "@chorus/mcp"
 *
 * const config = McpConfig.decode({
 *   mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] } }
 * })
 * // Effect<McpConfig, McpConfigError>
 */
export const decode = (input: unknown): Effect.Effect<McpConfig, McpConfigError> => decodeEither(input)

/** Decodes a configuration from JSON text (the contents of an `mcp.json` file). */
export const decodeJson = (text: string): Effect.Effect<McpConfig, McpConfigError> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: () => new McpConfigError({ server: null, field: "(root)", problem: "is not valid JSON" })
  }).pipe(Effect.flatMap(decode))

const encodeOAuth = (oauth: OAuth): OAuthEncoded => {
  const { clientSecret, privateKey, ...rest } = oauth
  return {
    ...rest,
    ...(clientSecret === undefined ? {} : { clientSecret: Redacted.value(clientSecret) }),
    ...(privateKey === undefined ? {} : { privateKey: Redacted.value(privateKey) })
  }
}

/** The typed configuration as a value schema. */
export const McpConfigFromSelf: Schema.Schema<McpConfig> = Schema.Struct({
  servers: Schema.Array(Schema.Union(StdioServer, HttpServer))
})

/**
 * The `mcpServers` JSON shape as a `Schema`, decoding to {@link McpConfig}.
 * Its parse errors carry the {@link McpConfigError} message (server and field, no value).
 */
export const McpConfig: Schema.Schema<McpConfig, McpConfigEncoded> = Schema.transformOrFail(
  Schema.Unknown as unknown as Schema.Schema<McpConfigEncoded>,
  McpConfigFromSelf,
  {
    strict: true,
    decode: (input, _options, ast) =>
      Either.match(decodeEither(input), {
        onLeft: (error) => ParseResult.fail(new ParseResult.Type(ast, input, error.message)),
        onRight: ParseResult.succeed
      }),
    encode: (config) =>
      ParseResult.succeed({
        mcpServers: Object.fromEntries(
          config.servers.map((server): [string, ServerEntryEncoded] =>
            server._tag === "StdioServer"
              ? [server.name, {
                command: server.command,
                args: server.args,
                env: Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, Redacted.value(value)])),
                ...(server.cwd === undefined ? {} : { cwd: server.cwd })
              }]
              : [server.name, {
                url: server.url,
                headers: Object.fromEntries(
                  Object.entries(server.headers).map(([key, value]) => [key, Redacted.value(value)])
                ),
                ...(server.oauth === undefined ? {} : { oauth: encodeOAuth(server.oauth) })
              }]
          )
        )
      })
  }
)
