/**
 * Where OAuth tokens and client registrations of MCP servers are kept, by key
 * (the server's name and URL). Values are `Redacted` in memory: they never
 * print, log or serialize by accident.
 *
 * {@link layerMemory} keeps them for the life of the layer; {@link layerFile}
 * (the embedded default) in a JSON file readable by its owner only (mode 0600).
 *
 * @since 0.1.0
 */
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js"
import { Context, Effect, Layer, Option, Redacted, Ref, Schema } from "effect"
import * as file from "./internal/tokenFile.js"

/** What is kept for one server. */
export interface Entry {
  readonly tokens: Option.Option<Redacted.Redacted<OAuthTokens>>
  readonly client: Option.Option<Redacted.Redacted<OAuthClientInformationMixed>>
}

/** The store could not be read or written; names the file, never a value. */
export class TokenStoreError extends Schema.TaggedError<TokenStoreError>()("TokenStoreError", {
  path: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `The OAuth token store "${this.path}" ${this.problem}`
  }
}

/** The service. */
export interface Service {
  readonly get: (key: string) => Effect.Effect<Entry, TokenStoreError>
  readonly update: (key: string, f: (entry: Entry) => Entry) => Effect.Effect<void, TokenStoreError>
}

/** The token store tag. */
export class TokenStore extends Context.Tag("@chorus/mcp/TokenStore")<TokenStore, Service>() {}

/** Nothing kept. */
export const empty: Entry = { tokens: Option.none(), client: Option.none() }

/** A store in memory. */
export const makeMemory: Effect.Effect<Service> = Effect.map(
  Ref.make(new Map<string, Entry>()),
  (ref): Service => ({
    get: (key) => Effect.map(Ref.get(ref), (entries) => entries.get(key) ?? empty),
    update: (key, f) => Ref.update(ref, (entries) => new Map(entries).set(key, f(entries.get(key) ?? empty)))
  })
)

/** A store in memory, for the life of the layer. */
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)

/** A store in a JSON file, created with mode 0600 (and set to 0600 when it exists). */
export const makeFile = (path: string): Effect.Effect<Service> => file.make(path)

/** A store in a JSON file readable by its owner only. */
export const layerFile = (path: string): Layer.Layer<TokenStore> => Layer.effect(TokenStore, makeFile(path))

/** The embedded default file: `$CHORUS_HOME/mcp-oauth.json`, or `~/.chorus/mcp-oauth.json`. */
export const defaultPath = (): string => file.defaultPath()
