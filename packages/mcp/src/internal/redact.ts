// Scrubbing secrets from every text that leaves the package (error details, logs, stderr, protocol notices).
// A secret is removed wherever it appears as a substring, and so is each part of it after an authentication
// scheme ("Bearer abc123" also removes "abc123"), because servers echo bare tokens back.
import { Redacted } from "effect"
import type * as McpConfig from "../McpConfig.js"

/** Shorter values are not scrubbed: they would mangle ordinary text and are no secret worth the name. */
const minimum = 4

/** The secrets of one server: its configured header and environment values, and the OAuth tokens it obtains. */
export interface Secrets {
  /** Adds a secret learned at run time (an OAuth token, a client secret). */
  readonly add: (secret: Redacted.Redacted<string> | string) => void
  /** The text with every secret replaced by `<redacted>`. */
  readonly scrub: (text: string) => string
}

const partsOf = (value: string): ReadonlyArray<string> => {
  const trimmed = value.trim()
  const space = trimmed.search(/\s/)
  // "Bearer abc", "Basic abc", "Token abc": the credential after the scheme leaks alone.
  const parts = space > 0 ? [trimmed, trimmed.slice(space).trim()] : [trimmed]
  return parts.filter((part) => part.length >= minimum)
}

export const make = (initial: Iterable<Redacted.Redacted<string>>): Secrets => {
  // Owned by one server's connection code; only ever grows. Longest first, so that a secret containing another is
  // replaced whole.
  let values: ReadonlyArray<string> = []
  const add = (secret: Redacted.Redacted<string> | string) => {
    const value = typeof secret === "string" ? secret : Redacted.value(secret)
    const next = new Set([...values, ...partsOf(value)])
    values = [...next].sort((a, b) => b.length - a.length)
  }
  for (const secret of initial) add(secret)
  return {
    add,
    scrub: (text) => values.reduce((acc, secret) => acc.split(secret).join("<redacted>"), text)
  }
}

/** The configured secrets of a server: its environment values (stdio) or header values (HTTP), and OAuth secrets. */
export const ofServer = (server: McpConfig.Server): Secrets => {
  if (server._tag === "StdioServer") return make(Object.values(server.env))
  const oauth = server.oauth
  const extra = oauth === undefined
    ? []
    : [oauth.clientSecret, oauth.privateKey].filter((value): value is Redacted.Redacted<string> => value !== undefined)
  return make([...Object.values(server.headers), ...extra])
}
