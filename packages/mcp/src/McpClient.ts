/**
 * Connections to MCP servers: stdio child processes and Streamable HTTP
 * endpoints, all under one scope.
 *
 * {@link make} connects every configured server concurrently. A server that
 * fails to start does not fail the whole: its {@link McpServerError} is
 * logged and kept in `startupFailures` and {@link Service.status}, and the
 * other servers stay usable. Closing the scope closes every connection and
 * ends every server process.
 *
 * Each server's tools are listed at connection and listed again when the
 * server sends `notifications/tools/list_changed`. A stdio server that exits,
 * or an HTTP server that stops answering, is marked disconnected (published as
 * a {@link Event} and logged); the next request to it reconnects under the
 * `reconnect` schedule. A request in flight when a server crashes fails with
 * reason `"crashed"`.
 *
 * Elicitation (`elicitation/create`) is answered by the `elicitation` handler
 * (see `McpEnvironment` for the environment's humans); without one the client
 * does not declare the capability. OAuth (`McpConfig.OAuth`) authorizes HTTP
 * servers; tokens live in the {@link TokenStore.TokenStore} in context (or the
 * embedded default file). Configured secrets and tokens are scrubbed, as
 * substrings, from every error, log and stderr line.
 *
 * A stdio server that writes something other than JSON-RPC to its stdout breaks
 * the protocol (the MCP specification forbids it): the connection is closed,
 * the requests in flight fail with reason `"malformed_response"`, and the next
 * request reconnects. A well-formed message with an invalid result fails only
 * its request, with the same reason.
 *
 * @since 0.1.0
 */
import type { Event as CoreEvent, Tool } from "@chorus/core"
import { Context, Data, Layer } from "effect"
import type { Duration, Effect, Option, Queue, Schedule, Scope } from "effect"
import * as internal from "./internal/client.js"
import type { McpServerError } from "./internal/error.js"
import type * as McpConfig from "./McpConfig.js"
import type * as TokenStore from "./TokenStore.js"

export {
  /** A server could not be started or reached, broke the protocol, refused the credentials or the request. */
  McpServerError,
  /** Why a request to a server did not produce its result. */
  ServerErrorReason
} from "./internal/error.js"

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/** A tool as a server describes it. */
export interface McpTool {
  readonly name: string
  readonly title: string | undefined
  readonly description: string | undefined
  /** The input JSON Schema, exactly as the server sent it. */
  readonly inputSchema: Tool.JsonSchema
  readonly outputSchema: Tool.JsonSchema | undefined
  readonly annotations: Tool.Annotations
}

/** A tool together with the server that offers it. */
export interface ServerTool {
  readonly server: string
  readonly tool: McpTool
}

/** The contents of a resource: text, or binary data in base64. */
export type ResourceContents =
  | { readonly uri: string; readonly mimeType?: string | undefined; readonly text: string }
  | { readonly uri: string; readonly mimeType?: string | undefined; readonly blob: string }

/** A content block of a tool result or a prompt message. */
export type Content =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image"; readonly data: string; readonly mimeType: string }
  | { readonly type: "audio"; readonly data: string; readonly mimeType: string }
  | {
    readonly type: "resource_link"
    readonly uri: string
    readonly name: string
    readonly title?: string | undefined
    readonly description?: string | undefined
    readonly mimeType?: string | undefined
  }
  | { readonly type: "resource"; readonly resource: ResourceContents }

/** The result of a tool call. */
export interface CallToolResult {
  readonly content: ReadonlyArray<Content>
  readonly structuredContent: unknown
  readonly isError: boolean
}

/** A resource a server offers. */
export interface Resource {
  readonly uri: string
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
}

/** A family of resources a server offers, by URI template. */
export interface ResourceTemplate {
  readonly uriTemplate: string
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
}

/** A prompt a server offers. */
export interface Prompt {
  readonly name: string
  readonly title?: string | undefined
  readonly description?: string | undefined
  readonly arguments: ReadonlyArray<{
    readonly name: string
    readonly description?: string | undefined
    readonly required: boolean
  }>
}

/** A prompt, filled in. */
export interface PromptResult {
  readonly description?: string | undefined
  readonly messages: ReadonlyArray<{ readonly role: "user" | "assistant"; readonly content: Content }>
}

/** What is known of a server now. */
export interface ServerStatus {
  readonly name: string
  readonly transport: "stdio" | "http"
  readonly connected: boolean
  /** The server process, for a connected stdio server. */
  readonly pid: number | null
  /** Why it is not connected. */
  readonly error: McpServerError | null
  readonly tools: ReadonlyArray<string>
}

/** What happens to connections, as it happens. */
export type Event = Data.TaggedEnum<{
  /** A server is connected (again, when `reconnected`). */
  Connected: { readonly server: string; readonly pid: number | null; readonly reconnected: boolean }
  /** A server was lost or could not be reconnected. */
  Disconnected: { readonly server: string; readonly error: McpServerError }
  /** A server's tools were listed again. */
  ToolsChanged: { readonly server: string; readonly tools: ReadonlyArray<string> }
}>

/** Constructors of {@link Event}. */
export const Event = Data.taggedEnum<Event>()

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/** A server asks a person for input (form mode), during the call `callId` when one is in flight. */
export interface ElicitationRequest {
  readonly server: string
  readonly callId: string | null
  readonly message: string
  /** A flat JSON Schema object of primitive fields, as the server sent it. */
  readonly requestedSchema: Readonly<Record<string, unknown>>
  /** Completes, with why, when no answer is needed any more (the call ended, the server withdrew it or was lost). */
  readonly cancelled: Effect.Effect<string>
  /** Why it was cancelled, if it was (without waiting). */
  readonly cancelledReason: Effect.Effect<Option.Option<string>>
}

/** The answer to an elicitation; accepted content is checked and completed with the schema's defaults. */
export interface ElicitationResult {
  readonly action: CoreEvent.ElicitationAction
  readonly content?: CoreEvent.ElicitationContent | null | undefined
}

/** Answers elicitations: in code, or through the environment (`McpEnvironment.elicitation`). */
export type ElicitationHandler = (request: ElicitationRequest) => Effect.Effect<ElicitationResult>

/** A person must open `url` to authorize the client for `server` (OAuth authorization code). */
export interface AuthorizationRequest {
  readonly server: string
  readonly url: string
}

/** Options of {@link make}. */
export interface Options {
  /** How long connecting (start, initialize, list tools) may take. Default 30 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** How reconnection is retried after a server was lost. Default: 3 retries, exponential from 200 ms. */
  readonly reconnect?: Schedule.Schedule<unknown, McpServerError> | undefined
  /** The client name sent to servers. Default "chorus". */
  readonly clientName?: string | undefined
  /** Answers servers' elicitations. Without it the client does not offer elicitation. */
  readonly elicitation?: ElicitationHandler | undefined
  /** Shows an OAuth authorization URL to a person. Default: logged (info). See `McpEnvironment.authorization`. */
  readonly authorize?: ((request: AuthorizationRequest) => Effect.Effect<void>) | undefined
  /** How long a person has to authorize. Default 5 minutes. */
  readonly authorizationTimeout?: Duration.DurationInput | undefined
  /** Where OAuth tokens are kept. Default: the `TokenStore` in context, else the embedded default file. */
  readonly tokenStore?: TokenStore.Service | undefined
}

/** Options of a tool call. */
export interface CallOptions {
  /** Receives the server's progress notifications, in order, before the call completes. */
  readonly onProgress?: ((progress: Tool.Progress) => Effect.Effect<void>) | undefined
  /** The function call this tool call runs: elicitations during it are keyed by it. */
  readonly callId?: string | undefined
}

/** The service. */
export interface Service {
  /** The configured (enabled) servers, in configuration order. */
  readonly servers: ReadonlyArray<string>
  /** The servers that could not be started when the client was made. */
  readonly startupFailures: ReadonlyArray<McpServerError>
  readonly status: Effect.Effect<ReadonlyArray<ServerStatus>>
  /** The tools of every server, as last listed, in configuration order. */
  readonly tools: Effect.Effect<ReadonlyArray<ServerTool>>
  /** Calls a tool; interrupting the effect sends the server a cancellation. */
  readonly callTool: (
    server: string,
    name: string,
    args: Readonly<Record<string, unknown>>,
    options?: CallOptions
  ) => Effect.Effect<CallToolResult, McpServerError>
  /** Lists a server's tools again. */
  readonly refreshTools: (server: string) => Effect.Effect<ReadonlyArray<McpTool>, McpServerError>
  readonly listResources: (server: string) => Effect.Effect<ReadonlyArray<Resource>, McpServerError>
  readonly listResourceTemplates: (server: string) => Effect.Effect<ReadonlyArray<ResourceTemplate>, McpServerError>
  readonly readResource: (server: string, uri: string) => Effect.Effect<ReadonlyArray<ResourceContents>, McpServerError>
  readonly listPrompts: (server: string) => Effect.Effect<ReadonlyArray<Prompt>, McpServerError>
  readonly getPrompt: (
    server: string,
    name: string,
    args?: Readonly<Record<string, string>>
  ) => Effect.Effect<PromptResult, McpServerError>
  /** Connects a server again now (closing its current connection, if any). */
  readonly reconnect: (server: string) => Effect.Effect<void, McpServerError>
  /** Subscribes to connection events; subscribe before doing what should cause them. */
  readonly events: Effect.Effect<Queue.Dequeue<Event>, never, Scope.Scope>
}

/** The MCP client tag. */
export class McpClient extends Context.Tag("@chorus/mcp/McpClient")<McpClient, Service>() {}

/**
 * Connects every configured server concurrently, under the current scope.
 *
 * @example
 * import { Effect } from "effect"
 * import { McpClient, McpConfig } from "@chorus/mcp"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* McpConfig.decode({ mcpServers: { memory: { command: "mcp-server-memory" } } })
 *   const client = yield* McpClient.make(config)
 *   const tools = yield* client.tools
 *   return tools.map(({ tool }) => tool.name)
 * }).pipe(Effect.scoped)
 */
export const make: (config: McpConfig.McpConfig, options?: Options) => Effect.Effect<Service, never, Scope.Scope> =
  internal.make

/** The client as a layer; its connections close with the layer. */
export const layer = (config: McpConfig.McpConfig, options?: Options): Layer.Layer<McpClient> =>
  Layer.scoped(McpClient, make(config, options))
