/**
 * `deliver` (packages/cluster/src/internal/retry.ts), the rule every request of the clustered environment and of
 * hosted agents follows: a request the cluster leaves unanswered is sent again after a patience, so a caller
 * gets an answer, the request's own typed failure, or a defect, in bounded time — never a wait for good.
 * In the multi-process tests a rebuilt agent's `Members` got no answer while its environment moved between two
 * surviving runners, and the agent never came back.
 */
import { TestRunner } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Stream, TestClock } from "effect"
import { Environment } from "@chorus/core"
import { ClusterEnvironment } from "@chorus/cluster"
import { deliver } from "../../packages/cluster/src/internal/retry.js"

class Refused {
  readonly _tag = "Refused"
}

/** A request whose n-th attempt (from 1) behaves as `attempt(n)` says. */
const request = <A, E>(sent: Ref.Ref<number>, attempt: (n: number) => Effect.Effect<A, E>) =>
  Effect.flatMap(Ref.updateAndGet(sent, (n) => n + 1), attempt)

describe("deliver: a request the cluster leaves unanswered", () => {
  it.scoped("is sent again after the patience; the first answer is the answer", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const scope = yield* Effect.scope
      const fiber = yield* Effect.fork(
        deliver(request(sent, (n) => n === 1 ? Effect.never : Effect.succeed(`attempt ${n}`)), { scope, patience: "10 seconds" })
      )
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* Ref.get(sent), 1)
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 2")
      assert.strictEqual(yield* Ref.get(sent), 2)
    }))

  it.scoped("a typed failure is an answer: not sent again", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const exit = yield* Effect.exit(deliver(request(sent, () => Effect.fail(new Refused())), { patience: "10 seconds" }))
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error instanceof Refused)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Ref.get(sent), 1)
    }))

  it.scoped("a slow first attempt still answers after a second was sent, and wins", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const scope = yield* Effect.scope
      const fiber = yield* Effect.fork(deliver(
        request(sent, (n) => n === 1 ? Effect.as(Effect.sleep("12 seconds"), "first") : Effect.never),
        { scope, patience: "10 seconds" }
      ))
      yield* TestClock.adjust("12 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "first")
      assert.strictEqual(yield* Ref.get(sent), 2)
    }))

  it.scoped("never answered at all: a defect after `attempts` sends, not a wait for good", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const scope = yield* Effect.scope
      const fiber = yield* Effect.fork(deliver(request(sent, () => Effect.never), { scope, patience: "10 seconds", attempts: 3 }))
      yield* TestClock.adjust("30 seconds")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die", String(exit))
      assert.strictEqual(yield* Ref.get(sent), 3)
    }))

  it.scoped("cut (interrupted, or a defect) attempts are retried within an attempt, without waiting for the patience", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const fiber = yield* Effect.fork(deliver(
        request(sent, (n) => n === 1 ? Effect.interrupt : n === 2 ? Effect.die("connection reset") : Effect.succeed("third")),
        { patience: "10 seconds" }
      ))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "third")
      assert.strictEqual(yield* Ref.get(sent), 3)
    }))
})

describe("deliver: the attempts it sent", () => {
  it.scoped("an attempt still unanswered when another answers is interrupted: none outlives the request", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      const stopped = yield* Ref.make(0)
      const fiber = yield* Effect.fork(deliver(
        request(sent, (n) => n === 1 ? Effect.onInterrupt(Effect.never, () => Ref.update(stopped, (k) => k + 1)) : Effect.succeed("second")),
        { patience: "10 seconds" }
      ))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "second")
      for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
      assert.strictEqual(yield* Ref.get(stopped), 1)
    }))

  it.scoped("an attempt whose cuts outlast its own retries does not end the request: it is sent again", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make(0)
      // With 3 attempts, the first send gives up after its 3 tries (each cut with a defect, ~0.3 s); the request
      // is sent again after the patience, and that send is answered.
      const fiber = yield* Effect.fork(deliver(
        request(sent, (n) => n <= 3 ? Effect.die("connection reset") : Effect.succeed(`answered by try ${n}`)),
        { patience: "10 seconds", attempts: 3 }
      ))
      yield* TestClock.adjust("1 second")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "answered by try 4")
    }))
})

describe("the clustered environment's requests", () => {
  // An environment entity whose first answer to each of these requests never comes (as when it went to a runner
  // that died, or to one giving the shard up); the next ones answer.
  const silentFirst = (sent: Ref.Ref<Record<string, number>>) =>
    ClusterEnvironment.EnvironmentEntity.toLayer(Effect.sync(() => {
      const answer = <A>(tag: string, value: A) =>
        Rpc.fork(Effect.flatMap(Ref.modify(sent, (all) => [(all[tag] ?? 0) + 1, { ...all, [tag]: (all[tag] ?? 0) + 1 }]), (n) =>
          n === 1 ? Effect.never : Effect.succeed(value)))
      return ClusterEnvironment.EnvironmentEntity.of({
        Publish: () => answer("Publish", { instance: "i", events: [] }),
        Subscribe: () => Stream.never,
        Flush: () => answer("Flush", undefined),
        LastSequence: () => answer("LastSequence", 41),
        Join: () => answer("Join", { sequence: 0 }),
        Leave: () => answer("Leave", undefined),
        Members: () => answer("Members", [{ id: "ops", kind: "agent" as const }]),
        Where: () => Effect.succeed("here")
      })
    }))

  it.scoped("members, lastSequence, leave and flush are answered after a first attempt gets no answer", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make<Record<string, number>>({})
      const context = yield* Layer.build(ClusterEnvironment.layer("silent").pipe(Layer.provideMerge(silentFirst(sent).pipe(Layer.provideMerge(TestRunner.layer)))))
      yield* TestClock.adjust(1)
      const env = Environment.Environment.pipe(Effect.provide(context))
      const run = <A, E>(f: (env: Environment.Service) => Effect.Effect<A, E>) => Effect.fork(Effect.flatMap(env, f))
      const members = yield* run((env) => env.members)
      const last = yield* run((env) => env.lastSequence)
      const leave = yield* run((env) => env.leave("nobody"))
      const flush = yield* run((env) => env.flush)
      for (let i = 0; i < 12; i++) {
        yield* TestClock.adjust("1 second")
        for (let turn = 0; turn < 20; turn++) yield* Effect.yieldNow()
      }
      assert.deepStrictEqual(members.unsafePoll()?.pipe(Exit.map((all) => all.map((member) => member.id))), Exit.succeed(["ops"]))
      assert.deepStrictEqual(last.unsafePoll(), Exit.succeed(41))
      assert.isTrue(leave.unsafePoll() !== null && Exit.isSuccess(leave.unsafePoll()!))
      assert.isTrue(flush.unsafePoll() !== null && Exit.isSuccess(flush.unsafePoll()!))
      assert.deepStrictEqual(yield* Ref.get(sent), { Members: 2, LastSequence: 2, Leave: 2, Flush: 2 })
    }))
})
