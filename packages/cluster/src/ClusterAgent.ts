/**
 * Agents hosted by the cluster: an agent in an environment is an entity keyed by both, placed by the cluster,
 * passivated when idle and rebuilt anywhere by folding its events (core's `Agent.make` resumes from the
 * environment's history). Its generators (model, tools) come from the layers of the node that runs it.
 *
 * - {@link layerRegistry}: the agents this node can host, by name, each with its node-local layer. Every
 *   runner registers the same names (and gives the registry to `ClusterEnvironment.layerEntity` too: the
 *   environment entity wakes the hosted agents among its members).
 * - {@link layerEntity}: registers the agent entity on a runner.
 * - {@link add} puts a registered agent in an environment, from any node; {@link remove} takes it out.
 *
 * The environment entity wakes a hosted agent when a finished item, an approval or clarification answer, or
 * an interrupt from someone else is published. From that wake until it is seen settled, an agent is kept alive
 * with a persisted keep-alive, so when its runner dies (or its shard moves) the runner that takes its shard over
 * rebuilds it at once, with
 * the guarantees of a restart: the cut run ends interrupted with its partial output, a pending approval stays
 * pending, a started call is never run again.
 *
 * @example
 * import { Agent, ScriptedModel } from "@chorus/core"
 * import { ClusterAgent } from "@chorus/cluster"
 *
 * // On every runner: "assistant", with this node's model.
 * const Registry = ClusterAgent.layerRegistry({
 *   assistant: ClusterAgent.agent(() => ({ id: "assistant", instructions: "Be brief." }), ScriptedModel.layer({ turns: [] }))
 * })
 * // From any node: the assistant joins conversation c-42, on whichever runner the cluster picks.
 * const added = ClusterAgent.add("c-42", "assistant")
 *
 * @since 0.1.0
 */
import type { Sharding } from "@effect/cluster"
import { Effect, Layer } from "effect"
import type { Environment, InferenceRunner, Participant } from "@chorus/core"
import { Agent } from "@chorus/core"
import * as entity from "./internal/agentEntity.js"
import * as protocol from "./internal/agentProtocol.js"
import { deliver } from "./internal/retry.js"

export { AgentEntity, AgentNotRegistered, AgentRegistry, agentEntityId } from "./internal/agentProtocol.js"

/** How a node builds a hosted agent. */
export type Definition = protocol.Definition

/** Options of the agent entity. */
export type Options = entity.Options

/**
 * A hosted participant: built for an environment, its requirements other than `Environment` provided by
 * `layer` (built on the node that runs it, for each live instance). Its id must be the name it is registered under.
 */
export const define = <Err, R, LE>(
  participant: (environmentId: string) => Participant.Participant<Err, R>,
  layer: Layer.Layer<Exclude<R, Environment.Environment>, LE>
): Definition => ({
  participant: (environmentId) => {
    const built = participant(environmentId)
    return {
      ...built,
      run: (inbox, start) => Effect.provide(built.run(inbox, start), layer)
    } as Participant.Participant<unknown, Environment.Environment>
  }
})

/** A hosted `Agent.make` agent: its options per environment, its model (and tools, when given) from `layer`. */
export const agent = <LE>(
  options: (environmentId: string) => Agent.Options,
  layer: Layer.Layer<InferenceRunner.InferenceRunner, LE>
): Definition => define((environmentId) => Agent.make(options(environmentId)), layer)

/** The agents this node can host, by name. */
export const layerRegistry = (agents: Readonly<Record<string, Definition>>): Layer.Layer<protocol.AgentRegistry> =>
  Layer.succeed(protocol.AgentRegistry, { agents: new Map(Object.entries(agents)) })

/** Registers the agent entity on this runner; the agents it hosts come from `AgentRegistry`. */
export const layerEntity = (
  options?: Options
): Layer.Layer<never, never, protocol.AgentRegistry | Sharding.Sharding> => entity.layer(options)

/** Puts a registered agent in an environment (or wakes it): answers the address of the runner it runs on. */
export const add = (
  environmentId: string,
  agent: string
): Effect.Effect<string, protocol.AgentNotRegistered, Sharding.Sharding> =>
  Effect.flatMap(protocol.AgentEntity.client, (client) =>
    deliver(Effect.suspend(() => client(protocol.agentEntityId(environmentId, agent)).Wake()))).pipe(
    Effect.catchIf((error) => !(error instanceof protocol.AgentNotRegistered), Effect.die)
  )

/** Takes a hosted agent out of an environment: it leaves, and is not woken again. */
export const remove = (environmentId: string, agent: string): Effect.Effect<void, never, Sharding.Sharding> =>
  Effect.flatMap(protocol.AgentEntity.client, (client) =>
    deliver(Effect.suspend(() => client(protocol.agentEntityId(environmentId, agent)).Leave()))).pipe(
    Effect.orDie
  )

/** Where a hosted agent runs now (waking it if needed). */
export const where = (environmentId: string, agent: string): Effect.Effect<string, never, Sharding.Sharding> =>
  Effect.flatMap(protocol.AgentEntity.client, (client) =>
    deliver(Effect.suspend(() => client(protocol.agentEntityId(environmentId, agent)).Where()))).pipe(
    Effect.orDie
  )
