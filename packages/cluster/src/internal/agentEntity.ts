/**
 * The agent entity: one live instance per (environment, agent) in the whole cluster. Its instance joins the
 * agent, built by this node's registry (its model and tools are this node's), to the clustered environment;
 * the agent's inbox is a subscription to the environment entity, wherever that runs.
 *
 * Lifecycle:
 * - **Wake.** The environment entity sends `Wake` when an event that may make the agent act is published
 *   (see `wakes`); the first message creates the instance, which joins the agent, or, when the agent is a
 *   member already (it was passivated, or its runner died), takes its place again: core's agent then folds its
 *   history and resumes (pending approvals still pending, a started call never re-run, a cut run ended
 *   interrupted with its partial output).
 * - **Busy.** From the moment it may act (woken, or rebuilt as a member) until it is seen settled, the instance
 *   holds `Entity.keepAlive`: it is not passivated, and the keep-alive is a persisted message, so if its runner
 *   dies, or its shard moves, the runner that takes the shard over redelivers it, which rebuilds the agent there
 *   at once. It is taken before the agent acts: taken only once the agent was seen busy (its state reaching
 *   this instance through the environment), a move or a death in between left a cut run that nothing resumed.
 *   It is released when the agent is seen in a state that is not busy, or `settleTime` after the wake if the
 *   agent never became busy (the event did not concern it).
 * - **Idle** (or awaiting an approval): passivated after `maxIdleTime` without a message; the next waking
 *   event rebuilds it.
 *
 * @internal
 */
import type { Sharding } from "@effect/cluster"
import { Entity } from "@effect/cluster"
import type { Duration } from "effect"
import { Effect, Stream } from "effect"
import type { Participant } from "@chorus/core"
import { Environment } from "@chorus/core"
import { AgentEntity, AgentNotRegistered, AgentRegistry, isBusy, parseAgentEntityId } from "./agentProtocol.js"
import * as client from "./environmentClient.js"

/** Options of the agent entity. */
export interface Options {
  /** An idle agent with no message for this long is passivated. Default 1 minute. */
  readonly maxIdleTime?: Duration.DurationInput | undefined
}


/** How long a woken agent never seen busy keeps its keep-alive (then it may be passivated when idle). */
const settleTime = "30 seconds"

const handlers = Effect.gen(function*() {
  const { entityId } = yield* Entity.CurrentAddress
  const runner = yield* Entity.CurrentRunnerAddress
  const where = `${runner.host}:${runner.port}`
  const address = parseAgentEntityId(entityId)
  const registry = yield* AgentRegistry
  const definition = address === undefined ? undefined : registry.agents.get(address.agent)

  const notHosted = (detail: string) =>
    new AgentNotRegistered({ agent: address?.agent ?? entityId, detail })

  // Nothing to run: every request is refused with the reason.
  if (address === undefined || definition === undefined) {
    const error = address === undefined
      ? notHosted(`"${entityId}" is not an agent entity id (environment/agent, URI-encoded)`)
      : notHosted("it is not in this node's registry")
    return AgentEntity.of({ Wake: () => Effect.fail(error), Leave: () => Effect.void, Where: () => Effect.succeed(where) })
  }
  const { agent, environmentId } = address
  const env = yield* client.make(environmentId)
  const participant: Participant.Participant<unknown, Environment.Environment> = definition.participant(environmentId)
  if (participant.id !== agent) {
    const error = notHosted(`its registry entry builds a participant named "${participant.id}"`)
    return AgentEntity.of({ Wake: () => Effect.fail(error), Leave: () => Effect.void, Where: () => Effect.succeed(where) })
  }

  // Handlers run outside the instance's build: they fork into its scope, with its context (the keep-alive latch).
  const scope = yield* Effect.scope
  const context = yield* Effect.context<Sharding.Sharding | Entity.CurrentAddress>()
  const keepAlive = (enabled: boolean) => Effect.provide(Entity.keepAlive(enabled), context)
  // A keep-alive redelivered to this instance waits on the latch: open it until the agent is busy again.
  yield* keepAlive(false)
  let keptAlive = false
  let busyNow = false
  let wakes = 0
  /** Holds the keep-alive before the agent may act; released by the watch, or after `settleTime` if never busy. */
  const stayAwake = Effect.suspend(() => {
    const wake = ++wakes
    const settle = Effect.sleep(settleTime).pipe(
      Effect.zipRight(Effect.suspend(() => {
        if (wake !== wakes || !keptAlive || busyNow) return Effect.void
        keptAlive = false
        return keepAlive(false)
      })),
      Effect.forkIn(scope),
      Effect.asVoid
    )
    if (keptAlive) return settle
    keptAlive = true
    return Effect.zipRight(keepAlive(true), settle)
  })
  const watch = Effect.gen(function*() {
    const subscription = yield* env.subscribe({
      accepts: (event) => event.payload._tag === "StateChanged" && event.payload.participant === agent
    })
    yield* Stream.runForEach(subscription.stream, (event) => {
      if (event.payload._tag !== "StateChanged") return Effect.void
      busyNow = isBusy(event.payload.to)
      if (busyNow === keptAlive) return Effect.void
      keptAlive = busyNow
      return keepAlive(busyNow)
    })
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) => Effect.logWarning(`agent ${agent} in ${environmentId}: its state watch stopped`, cause))
  )

  let joined = false
  const join = Effect.gen(function*() {
    // The watch starts first, so the agent's first state change after joining reaches it.
    yield* Effect.forkIn(watch, scope)
    yield* Effect.yieldNow()
    yield* env.rejoin(participant).pipe(Effect.provideService(Environment.Environment, env), Effect.orDie)
    joined = true
  })

  // Rebuilt (after a passivation, a move or its runner's death): a member already, it resumes at once.
  const members = yield* env.members
  if (members.some((member) => member.id === agent)) yield* Effect.zipRight(stayAwake, join)
  yield* Effect.logDebug(`agent ${entityId}: built on ${where}, ${joined ? "rejoined" : "not a member"}`)

  return AgentEntity.of({
    Wake: () => Effect.as(Effect.zipRight(stayAwake, joined ? Effect.void : join), where),
    Leave: () =>
      Effect.suspend(() => {
        joined = false
        return env.leave(agent)
      }),
    Where: () => Effect.succeed(where)
  })
})

/** The agent entity's handlers, to register on every runner; hosted agents come from `AgentRegistry`. */
export const layer = (options?: Options) =>
  AgentEntity.toLayer(handlers, { maxIdleTime: options?.maxIdleTime ?? "1 minute" })
