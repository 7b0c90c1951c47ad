// What the client keeps per server, and per connection.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type { Option, Ref, Scope, SynchronizedRef } from "effect"
import type * as McpConfig from "../McpConfig.js"
import type { InFlight } from "./elicitation.js"
import type { McpServerError } from "./error.js"
import type { Secrets } from "./redact.js"
import type * as McpClient from "../McpClient.js"

/** One open connection; its resources (process, listener, session) live in its own scope. */
export interface Connection {
  readonly client: Client
  readonly pid: number | null
  readonly scope: Scope.CloseableScope
  /** Set when the server broke the protocol; requests that fail afterwards report it. */
  readonly broken: Ref.Ref<Option.Option<string>>
}

/** A server's connection state: changed only through its SynchronizedRef, which serializes (re)connection. */
export type State =
  | { readonly _tag: "Connected"; readonly connection: Connection }
  | { readonly _tag: "Disconnected"; readonly error: McpServerError }
  | { readonly _tag: "Closed" }

export interface Entry {
  readonly config: McpConfig.Server
  readonly state: SynchronizedRef.SynchronizedRef<State>
  readonly tools: Ref.Ref<ReadonlyArray<McpClient.McpTool>>
  /** The end of the server's stderr, for error details. */
  readonly stderr: Ref.Ref<string>
  readonly secrets: Secrets
  /** Tool calls in flight, oldest first (an elicitation belongs to the latest). */
  readonly calls: Ref.Ref<ReadonlyArray<InFlight>>
}
