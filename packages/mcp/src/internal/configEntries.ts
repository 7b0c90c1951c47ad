/**
 * The wire shape of an `mcpServers` entry, and parse problems described without the offending value (it may be a
 * secret). Used by `McpConfig`'s decoder.
 *
 * @internal
 */
import type { ParseResult } from "effect"
import { Schema, SchemaAST } from "effect"

/** How a client authenticates at the token endpoint. */
export const ClientAuth = Schema.Literal("client_secret_basic", "client_secret_post", "private_key_jwt", "none")

export const Secrets = Schema.Record({ key: Schema.String, value: Schema.Redacted(Schema.String) }).annotations({
  description: "an object of string values"
})

export const HttpUrl = Schema.String.pipe(
  Schema.filter((value) => {
    try {
      const url = new URL(value)
      return url.protocol === "http:" || url.protocol === "https:"
    } catch {
      return false
    }
  }, { description: "an http:// or https:// URL" })
)

export const StdioEntry = Schema.Struct({
  command: Schema.String.pipe(Schema.filter((value) => value.trim() !== "", { description: "a non-empty command" })),
  args: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  env: Schema.optionalWith(Secrets, { exact: true }),
  cwd: Schema.optionalWith(Schema.NonEmptyString, { exact: true })
})

export const OAuthEntry = Schema.Struct({
  grant: Schema.optionalWith(Schema.Literal("authorization_code", "client_credentials"), { exact: true }),
  clientId: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  clientSecret: Schema.optionalWith(Schema.Redacted(Schema.String), { exact: true }),
  clientAuth: Schema.optionalWith(ClientAuth, { exact: true }),
  privateKey: Schema.optionalWith(Schema.Redacted(Schema.String), { exact: true }),
  signingAlgorithm: Schema.optionalWith(Schema.String, { exact: true }),
  clientMetadataUrl: Schema.optionalWith(HttpUrl, { exact: true }),
  clientName: Schema.optionalWith(Schema.String, { exact: true }),
  scope: Schema.optionalWith(Schema.String, { exact: true }),
  redirectPort: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { exact: true })
})

export const HttpEntry = Schema.Struct({
  url: HttpUrl,
  headers: Schema.optionalWith(Secrets, { exact: true }),
  oauth: Schema.optionalWith(OAuthEntry, { exact: true })
})

export const Common = Schema.Struct({
  type: Schema.optionalWith(Schema.String, { exact: true }),
  disabled: Schema.optionalWith(Schema.Boolean, { exact: true })
})

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const describeAst = (ast: SchemaAST.AST): string => {
  const description = SchemaAST.getDescriptionAnnotation(ast)
  if (description._tag === "Some") return description.value
  return String(ast)
}

export const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (field, key) =>
      typeof key === "number" ? `${field}[${key}]` : field === "" ? String(key) : `${field}.${String(key)}`,
    ""
  )

// The first problem of a parse issue, described without the offending value (it may be a secret).
export const firstProblem = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey>
): { readonly path: ReadonlyArray<PropertyKey>; readonly problem: string } => {
  switch (issue._tag) {
    case "Pointer":
      return firstProblem(issue.issue, [...path, ...(Array.isArray(issue.path) ? issue.path : [issue.path])])
    case "Composite": {
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues]
      const first = issues[0] as ParseResult.ParseIssue | undefined
      return first === undefined ? { path, problem: "is invalid" } : firstProblem(first, path)
    }
    case "Refinement":
      return issue.kind === "Predicate"
        ? { path, problem: `must be ${describeAst(issue.ast)}` }
        : firstProblem(issue.issue, path)
    case "Transformation":
      return firstProblem(issue.issue, path)
    case "Type":
      return { path, problem: `must be ${describeAst(issue.ast)}` }
    case "Missing":
      return { path, problem: "is required" }
    case "Unexpected":
      return { path, problem: "is not allowed" }
    case "Forbidden":
      return { path, problem: "could not be decoded" }
  }
}
