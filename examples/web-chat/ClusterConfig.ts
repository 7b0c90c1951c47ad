/**
 * What a node of the clustered web chat reads from its environment variables (`cluster.ts`), and the cluster's
 * settings, the same in every node.
 *
 * @since 0.1.0
 */
import { Config, Redacted } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"

const isPostgresUrl = (url: Redacted.Redacted) => {
  try {
    const parsed = new URL(Redacted.value(url))
    return (parsed.protocol === "postgres:" || parsed.protocol === "postgresql:") && parsed.hostname !== ""
  } catch {
    return false
  }
}

const portConfig = (name: string, fallback: number, minimum: number) =>
  Config.integer(name).pipe(
    Config.validate({
      message: `${name} must be a port number (${minimum}-65535)`,
      validation: (n) => n >= minimum && n <= 65535
    }),
    Config.withDefault(fallback)
  )

/** What a node reads from its environment variables. */
export const NodeConfig = Config.all({
  databaseUrl: Config.redacted("DATABASE_URL").pipe(Config.validate({
    message: "DATABASE_URL must be a PostgreSQL URL (postgres://user@host:port/database)",
    validation: isPostgresUrl
  })),
  port: portConfig("PORT", 8787, 0),
  clusterPort: portConfig("CLUSTER_PORT", 34431, 1),
  clusterHost: Config.string("CLUSTER_HOST").pipe(Config.withDefault("127.0.0.1")),
  conversation: Config.string("WEB_CHAT_CONVERSATION").pipe(
    Config.validate({ message: "WEB_CHAT_CONVERSATION must not be empty", validation: (id) => id.trim() !== "" }),
    Config.withDefault("web-chat")
  ),
  sandbox: Config.string("WEB_CHAT_NOTES").pipe(Config.withDefault(Path.join(Os.tmpdir(), "chorus-web-chat-notes"))),
  apiKey: Config.option(Config.redacted("OPENAI_API_KEY")),
  model: Config.string("OPENAI_MODEL").pipe(Config.withDefault("gpt-4.1-mini"))
})

/**
 * The cluster's settings, the same in every node: 30 shards (a demo, not a fleet), and a dead node's shards
 * taken over in about ten seconds (heartbeats every 2 s, a lock expires after 9 s) instead of 35.
 */
export const shardingConfig = {
  shardsPerGroup: 30,
  shardLockRefreshInterval: "2 seconds",
  shardLockExpiration: "9 seconds",
  refreshAssignmentsInterval: "1 second",
  entityMessagePollInterval: "1 second"
} as const
