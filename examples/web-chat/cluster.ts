/**
 * `pnpm web-chat:node`: one node of the clustered web chat. Run several (`pnpm web-chat:cluster` starts three
 * on a throwaway PostgreSQL): each serves the page, every tab on every node sees the same conversation, and
 * any of them can stop the agent or answer its approvals.
 *
 * The conversation is an environment entity and the agent an agent entity of `@effect/cluster`: each lives on
 * one runner at a time, wherever the cluster places it, its journal in Postgres. Every node registers both
 * (with its own model and `write_note` tool, for whenever the agent lands there) and serves the browsers' human.
 *
 * Environment: `DATABASE_URL` (required: the cluster's storage and the journal), `PORT` (the page, default
 * 8787), `CLUSTER_PORT` (where the other nodes reach this one, default 34431; one per node),
 * `CLUSTER_HOST` (default 127.0.0.1), `WEB_CHAT_CONVERSATION` (default `web-chat`), `WEB_CHAT_NOTES`, and
 * `OPENAI_API_KEY` / `OPENAI_MODEL` / `OPENAI_BASE_URL` as in `pnpm web-chat` (a scripted model without a key).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { ClusterAgent, ClusterEnvironment, ClusterSocket, PgJournal } from "@chorus/cluster"
import { OpenAiResponses } from "@chorus/providers"
import { Console, Effect, Layer, Option } from "effect"
import { NodeConfig, shardingConfig } from "./ClusterConfig.js"
import * as Notes from "./Notes.js"
import * as Script from "./Script.js"
import * as WebChat from "./WebChat.js"

const program = Effect.gen(function*() {
  const config = yield* NodeConfig
  const inference = Option.isSome(config.apiKey)
    ? OpenAiResponses.layerConfig({ model: config.model })
    : Script.layer({ latency: "40 millis" })
  const options = { sandbox: config.sandbox, port: config.port }
  const agent = WebChat.agentOptions({})
  // The agent, for whenever the cluster places it on this node: this node's model, its `write_note`.
  const agents = ClusterAgent.layerRegistry({
    [agent.id]: ClusterAgent.agent(
      () => agent,
      Layer.merge(inference, Notes.toolkit(config.sandbox).layer).pipe(Layer.provide(NodeContext.layer))
    )
  })
  const node = Layer.mergeAll(ClusterEnvironment.layerEntity(), ClusterAgent.layerEntity()).pipe(
    Layer.provide(agents),
    Layer.provide(PgJournal.layer()),
    Layer.provideMerge(ClusterSocket.layer({ host: config.clusterHost, port: config.clusterPort, shardingConfig })),
    Layer.provide(PgClient.layer({ url: config.databaseUrl }))
  )
  yield* Effect.gen(function*() {
    // Placed once by the cluster, whichever node asks first; the others find it there.
    const runsOn = yield* ClusterAgent.add(config.conversation, agent.id)
    const chat = yield* WebChat.serve(options)
    yield* Console.log(`web-chat: node ${config.clusterHost}:${config.clusterPort}, conversation "${config.conversation}", the agent runs on ${runsOn}`)
    yield* Console.log(`web-chat: open ${chat.url}`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(ClusterEnvironment.layer(config.conversation)),
    Effect.provide(Layer.merge(node, NodeContext.layer))
  )
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
