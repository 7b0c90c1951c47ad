/**
 * The clustered web chat's node configuration (examples/web-chat/ClusterConfig.ts) fed garbage: each bad variable
 * is named with what it should be, before the node touches the database or the network.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { NodeConfig } from "../../examples/web-chat/ClusterConfig.js"

const read = (variables: Record<string, string>) =>
  Effect.either(NodeConfig).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables)))))

const url = "postgres://postgres@127.0.0.1:5432/chorus"

describe("the clustered web chat's configuration", () => {
  it.effect("defaults around a database URL", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* read({ DATABASE_URL: url }))
      assert.strictEqual(Redacted.value(config.databaseUrl), url)
      assert.deepStrictEqual([config.port, config.clusterPort, config.clusterHost, config.conversation], [8787, 34431, "127.0.0.1", "web-chat"])
    }))

  const garbage: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["no database", {}, "DATABASE_URL"],
    ["a database URL that is not one", { DATABASE_URL: "not a url" }, "DATABASE_URL must be a PostgreSQL URL"],
    ["a database URL of another kind", { DATABASE_URL: "mysql://root@127.0.0.1/chorus" }, "DATABASE_URL must be a PostgreSQL URL"],
    ["a page port that is a word", { DATABASE_URL: url, PORT: "http" }, "PORT"],
    ["a page port out of range", { DATABASE_URL: url, PORT: "70000" }, "PORT must be a port number"],
    ["cluster port 0 (peers could not reach it)", { DATABASE_URL: url, CLUSTER_PORT: "0" }, "CLUSTER_PORT must be a port number (1-65535)"],
    ["a blank conversation", { DATABASE_URL: url, WEB_CHAT_CONVERSATION: "  " }, "WEB_CHAT_CONVERSATION must not be empty"]
  ]
  for (const [name, variables, expected] of garbage) {
    it.effect(`refuses ${name}`, () =>
      Effect.gen(function*() {
        const result = yield* read(variables)
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) assert.include(String(result.left), expected)
      }))
  }

  it.effect("never prints the database URL it refuses", () =>
    Effect.gen(function*() {
      const result = yield* read({ DATABASE_URL: "postgres://user:secret@" })
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.notInclude(String(result.left), "secret")
    }))
})
