// The file token store: one JSON object by key, rewritten whole (to a temporary file, then renamed) under a lock,
// always with mode 0600.
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js"
import { Effect, Option, Redacted, Schema } from "effect"
import type * as TokenStore from "../TokenStore.js"
import { TokenStoreError } from "../TokenStore.js"

const Stored = Schema.parseJson(
  Schema.Record({
    key: Schema.String,
    value: Schema.Struct({
      tokens: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
      client: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
    })
  })
)
type Stored = typeof Stored.Type

export const defaultPath = () => Path.join(process.env.CHORUS_HOME ?? Path.join(Os.homedir(), ".chorus"), "mcp-oauth.json")

const toEntry = (stored: Stored[string] | undefined): TokenStore.Entry => ({
  tokens: Option.map(Option.fromNullable(stored?.tokens), (tokens) => Redacted.make(tokens as unknown as OAuthTokens)),
  client: Option.map(
    Option.fromNullable(stored?.client),
    (client) => Redacted.make(client as unknown as OAuthClientInformationMixed)
  )
})

const fromEntry = (entry: TokenStore.Entry): Stored[string] => ({
  ...Option.match(entry.tokens, { onNone: () => ({}), onSome: (tokens) => ({ tokens: { ...Redacted.value(tokens) } }) }),
  ...Option.match(entry.client, { onNone: () => ({}), onSome: (client) => ({ client: { ...Redacted.value(client) } }) })
})

export const make = (path: string): Effect.Effect<TokenStore.Service> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    const fail = (problem: string) => () => new TokenStoreError({ path, problem })
    const read = Effect.tryPromise({
      try: () => Fs.readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => error.code === "ENOENT" ? "{}" : Promise.reject(error)),
      catch: fail("cannot be read")
    }).pipe(
      Effect.flatMap((text) => Schema.decodeUnknown(Stored)(text).pipe(Effect.mapError(fail("is not a valid token file"))))
    )
    const write = (stored: Stored) =>
      Effect.tryPromise({
        try: async () => {
          await Fs.mkdir(Path.dirname(path), { recursive: true, mode: 0o700 })
          const temporary = `${path}.${process.pid}.tmp`
          await Fs.writeFile(temporary, JSON.stringify(stored, null, 2), { mode: 0o600 })
          await Fs.chmod(temporary, 0o600)
          await Fs.rename(temporary, path)
        },
        catch: fail("cannot be written")
      })
    return {
      get: (key) => Effect.map(read, (stored) => toEntry(stored[key])),
      update: (key, f) =>
        lock.withPermits(1)(
          Effect.flatMap(read, (stored) => write({ ...stored, [key]: fromEntry(f(toEntry(stored[key]))) }))
        )
    }
  })
