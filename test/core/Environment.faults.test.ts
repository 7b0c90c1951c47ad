/**
 * The environment under faults: a journal outage, a participant that cannot
 * start, a wait that can no longer end, derived state read without the
 * journal, late observers asking for history.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Deferred, Effect, Exit, Fiber, Layer, Queue, Ref, Stream, TestClock } from "effect"
import { Environment, Event, Human, InputStream, Journal, Participant, Reducer } from "@chorus/core"

const interruptFor = (participant: string) => new Event.InterruptRequested({ participant, runId: null })

/** A memory journal whose appends fail while `down` says so, counting appends and reads. */
const controllable = Effect.gen(function*() {
  const memory = yield* Journal.makeMemory
  const down = yield* Ref.make<(now: number) => boolean>(() => false)
  const counts = { appends: 0, failed: 0, reads: 0 }
  const journal: Journal.Service = {
    ...memory,
    append: (events) =>
      Effect.gen(function*() {
        counts.appends++
        const now = yield* Clock.currentTimeMillis
        if ((yield* Ref.get(down))(now)) {
          counts.failed++
          return yield* new Journal.JournalError({ operation: "append", detail: "disk full" })
        }
        return yield* memory.append(events)
      }),
    read: (options) =>
      Stream.suspend(() => {
        counts.reads++
        return memory.read(options)
      })
  }
  return { journal, down, counts }
})

const onJournal = (journal: Journal.Service, options?: Environment.Options) =>
  Environment.layer(options).pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)

const stored = (journal: Journal.Service) =>
  Effect.map(Stream.runCollect(journal.read()), (all) => Chunk.toReadonlyArray(all))

describe("Environment: a journal outage", () => {
  it.effect("a 4 s outage loses nothing: order kept, degraded then recovered, flush fails fast meanwhile, catch-up after", () =>
    Effect.gen(function*() {
      const { counts, down, journal } = yield* controllable
      const sideEffects = yield* Ref.make<ReadonlyArray<string>>([])
      const health = yield* Ref.make<ReadonlyArray<Event.Event>>([])
      const back = yield* Deferred.make<Event.Event>()
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        // A live observer records what happens.
        yield* env.join(Participant.observer("health", (event) =>
          Ref.update(health, (all) => [...all, event]).pipe(
            Effect.zipRight(event.payload._tag === "JournalRecovered" ? Deferred.succeed(back, event) : Effect.void)
          ), {
          accepts: (event) => event.payload._tag === "JournalDegraded" || event.payload._tag === "JournalRecovered"
        }))
        for (let i = 0; i <= 16; i++) yield* env.publish("agent", interruptFor(`before-${i}`))
        yield* env.flush
        // The disk fails for 4 seconds from now.
        const start = yield* Clock.currentTimeMillis
        yield* Ref.set(down, (now) => now < start + 4_000)

        // A tool runs only once its start is durable (the agent's rule).
        const runTool = (name: string) =>
          Effect.gen(function*() {
            yield* env.publish("agent", new Event.FunctionCallStarted({ callId: name, name }))
            yield* env.flush
            yield* Ref.update(sideEffects, (all) => [...all, name])
          })

        for (let i = 17; i <= 42; i++) yield* env.publish("agent", interruptFor(`during-${i}`))
        const early = yield* Effect.fork(runTool("early"))
        yield* TestClock.adjust("1 second")
        // A short outage is invisible: the flush waits, the tool has not run.
        assert.isNull(early.unsafePoll())
        assert.deepStrictEqual(yield* Ref.get(sideEffects), [])

        yield* TestClock.adjust("1500 millis")
        // Past 2 s the journal is degraded: the waiting flush failed, so the tool never ran.
        const earlyExit = yield* Fiber.await(early)
        assert.isTrue(Exit.isFailure(earlyExit))
        const [degraded] = yield* Ref.get(health)
        assert.strictEqual(degraded?.payload._tag, "JournalDegraded")
        assert.include((degraded!.payload as Event.JournalDegraded).error, "disk full")
        assert.strictEqual((degraded!.payload as Event.JournalDegraded).since, 18)
        // And a new flush fails at once, with the journal's error.
        const refused = yield* Effect.flip(runTool("refused"))
        assert.include(refused.message, "degraded")
        assert.include(refused.message, "disk full")
        assert.deepStrictEqual(yield* Ref.get(sideEffects), [])

        // The disk is back at 4 s; the writer's next attempt (capped backoff) catches up.
        yield* TestClock.adjust("5 seconds")
        const recovered = yield* Deferred.await(back)
        assert.isTrue((recovered.payload as Event.JournalRecovered).written >= 26)
        yield* runTool("after")
        assert.deepStrictEqual(yield* Ref.get(sideEffects), ["after"])
      }).pipe(Effect.provide(onJournal(journal)))

      assert.isTrue(counts.failed >= 4, `${counts.failed} failed appends`)
      const all = yield* stored(journal)
      // Nothing lost, nothing reordered: contiguous sequences, 17–42 among them, in publication order.
      assert.deepStrictEqual(all.map((event) => event.sequence), all.map((_, i) => i))
      const targets = all.flatMap((event) => event.payload._tag === "InterruptRequested" ? [event.payload.participant] : [])
      assert.deepStrictEqual(targets, [
        ...Array.from({ length: 17 }, (_, i) => `before-${i}`),
        ...Array.from({ length: 26 }, (_, i) => `during-${i + 17}`)
      ])
      const tags = all.map((event) => event.payload._tag)
      assert.isTrue(tags.indexOf("JournalDegraded") < tags.indexOf("JournalRecovered"))
      // The refused tool's start is recorded (it was published), but its side effect never happened.
      assert.deepStrictEqual(
        all.flatMap((event) => event.payload._tag === "FunctionCallStarted" ? [event.payload.callId] : []),
        ["early", "refused", "after"]
      )
    }))

  it.effect("past the backlog limit the journal is degraded at once, and flush fails fast", () =>
    Effect.gen(function*() {
      const { down, journal } = yield* controllable
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* Ref.set(down, () => true)
        yield* env.publish("a", interruptFor("first"))
        // The writer's first attempt fails.
        yield* Effect.yieldNow()
        const subscription = yield* env.subscribe()
        for (let i = 0; i < 10; i++) yield* env.publish("a", interruptFor(`${i}`))
        const degraded = yield* subscription.stream.pipe(Stream.filter((event) => event.payload._tag === "JournalDegraded"), Stream.runHead)
        assert.isTrue(degraded._tag === "Some" && (degraded.value.payload as Event.JournalDegraded).unwritten >= 10)
        const error = yield* Effect.flip(env.flush)
        assert.include(error.message, "degraded")
        yield* Ref.set(down, () => false)
        yield* TestClock.adjust("10 seconds")
        yield* subscription.stream.pipe(Stream.filter((event) => event.payload._tag === "JournalRecovered"), Stream.runHead)
        yield* env.flush
      }).pipe(Effect.scoped, Effect.provide(onJournal(journal, { degradedAfter: { backlog: 10, duration: "1 hour" } })))
      const all = yield* stored(journal)
      assert.deepStrictEqual(all.map((event) => event.sequence), all.map((_, i) => i))
      assert.strictEqual(all.filter((event) => event.payload._tag === "InterruptRequested").length, 11)
    }))
})

describe("Environment: history during an outage", () => {
  it.effect("waitFor from 0, subscribe from a sequence, a projection and a join with history read the unwritten tail from memory", () =>
    Effect.gen(function*() {
      const { down, journal } = yield* controllable
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        for (let i = 0; i < 5; i++) yield* env.publish("a", interruptFor(`durable-${i}`))
        yield* env.flush
        yield* Ref.set(down, () => true)
        for (let i = 0; i < 5; i++) yield* env.publish("a", interruptFor(`unwritten-${i}`))
        // Past 2 s the journal is degraded: nothing after sequence 4 is durable.
        yield* TestClock.adjust("3 seconds")
        assert.include((yield* Effect.flip(env.flush)).message, "degraded")
        const last = yield* env.lastSequence

        // An event published before the outage, and one published during it.
        const durable = yield* env.waitFor((event) => event.payload._tag === "InterruptRequested" && event.payload.participant === "durable-2")
        assert.strictEqual(durable.sequence, 2)
        const unwritten = yield* env.waitFor((event) => event.payload._tag === "InterruptRequested" && event.payload.participant === "unwritten-3")
        assert.strictEqual(unwritten.sequence, 8)

        // A subscription from a sequence before the outage: history (durable, then unwritten), then live, no gap.
        const subscription = yield* env.subscribe({ from: 3 })
        yield* env.publish("a", interruptFor("live"))
        const seen = yield* subscription.stream.pipe(Stream.take(last - 3 + 2), Stream.runCollect)
        assert.deepStrictEqual(Chunk.toReadonlyArray(seen).map((event) => event.sequence), Array.from({ length: last - 1 }, (_, i) => i + 3))

        // By kind, the same: what the journal holds of it, then the writer's tail (here the degraded announcement).
        const byKind = yield* env.subscribe({ from: 0, kinds: ["JournalDegraded", "InterruptRequested"] })
        const kinds = yield* byKind.stream.pipe(Stream.take(last + 2), Stream.runCollect)
        assert.deepStrictEqual(
          Chunk.toReadonlyArray(kinds).map((event) => event.payload._tag === "InterruptRequested" ? event.payload.participant : event.payload._tag),
          [0, 1, 2, 3, 4].map((i) => `durable-${i}`).concat([0, 1, 2, 3, 4].map((i) => `unwritten-${i}`), ["JournalDegraded", "live"])
        )

        // A projection registered now folds everything published.
        const counter = Reducer.make(0, (n: number, event) => event.payload._tag === "InterruptRequested" ? n + 1 : n)
        assert.strictEqual(yield* env.projection(counter), 11)

        // A late observer asking for history from 0 gets all of it.
        const received = yield* Ref.make<ReadonlyArray<number>>([])
        yield* env.join(Participant.observer("late", (event) => Ref.update(received, (all) => [...all, event.sequence]), { from: 0 }))
        yield* TestClock.adjust("10 millis")
        const got = yield* Ref.get(received)
        assert.deepStrictEqual(got.slice(0, last + 2), Array.from({ length: last + 2 }, (_, i) => i))

        // And the journal catches up after the outage, as before.
        yield* Ref.set(down, () => false)
        yield* TestClock.adjust("10 seconds")
        yield* env.flush
      }).pipe(Effect.scoped, Effect.provide(onJournal(journal)))
      const all = yield* stored(journal)
      assert.deepStrictEqual(all.map((event) => event.sequence), all.map((_, i) => i))
    }))
})

describe("Environment: membership", () => {
  it.effect("joining and leaving 1,000 narrow members costs no member anything: O(1) per join and leave", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      let filterCalls = 0
      let received = 0
      const members = 1_000
      for (let i = 0; i < members; i++) {
        const id = `m${i}`
        yield* env.join(Participant.make({
          id,
          kind: "observer",
          kinds: ["InterruptRequested"],
          accepts: (event) => {
            filterCalls++
            return event.payload._tag === "InterruptRequested" && event.payload.participant === id
          },
          run: (inbox) => Stream.runForEach(inbox, () => Effect.sync(() => received++))
        }))
      }
      for (let i = 0; i < members; i += 2) yield* env.leave(`m${i}`)
      // Nobody's filter ran for the 1,500 membership events, nobody was woken.
      assert.strictEqual(filterCalls, 0)
      assert.strictEqual(received, 0)
      assert.strictEqual((yield* env.members).length, members / 2)
      // An event of a declared kind reaches exactly its member.
      yield* env.publish("boss", interruptFor("m1"))
      yield* Effect.yieldNow()
      assert.strictEqual(received, 1)
      assert.strictEqual(filterCalls, members / 2)
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an observer leaves once, idle or busy: an idle one stops at once, a busy handler is interrupted", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const finalized: Array<string> = []
      const busy = yield* Deferred.make<void>()
      yield* env.join(Participant.observer("idle", () => Effect.void))
      yield* env.join(Participant.observer("busy", () =>
        Deferred.succeed(busy, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Effect.sync(() => finalized.push("busy")))
        )))
      yield* env.publish("boss", interruptFor("nobody"))
      yield* Deferred.await(busy)
      yield* env.leave("idle")
      yield* env.leave("busy")
      // Leaving twice changes nothing.
      yield* env.leave("idle")
      assert.deepStrictEqual(finalized, ["busy"])
      assert.deepStrictEqual(yield* env.members, [])
      const left = yield* env.snapshot(Reducer.make<ReadonlyArray<string>>([], (state, event) =>
        event.payload._tag === "ParticipantLeft" ? [...state, event.payload.participant] : state))
      assert.deepStrictEqual(left, ["idle", "busy"])
      // The departed receive nothing more; a new member may take the id again.
      yield* env.join(Participant.observer("idle", () => Effect.void))
      assert.deepStrictEqual((yield* env.members).map((member) => member.id), ["idle"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("kinds addressed to a member reach only that member: 1,000 joins deliver 1,000 announcements, not 500,000", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      let filterCalls = 0
      const received = new Map<string, Array<string>>()
      const members = 1_000
      for (let i = 0; i < members; i++) {
        const id = `m${i}`
        received.set(id, [])
        yield* env.join(Participant.make({
          id,
          kind: "agent",
          kinds: ["ItemDone"],
          addressed: ["ParticipantJoined", "InterruptRequested"],
          accepts: () => {
            filterCalls++
            return true
          },
          run: (inbox) => Stream.runForEach(inbox, (event) => Effect.sync(() => received.get(id)!.push(event.payload._tag)))
        }))
      }
      yield* Effect.yieldNow()
      // Each member took its own join announcement, and nobody else's.
      assert.strictEqual(filterCalls, members)
      for (const [, tags] of received) assert.deepStrictEqual(tags, ["ParticipantJoined"])
      yield* env.publish("boss", interruptFor("m7"))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(received.get("m7"), ["ParticipantJoined", "InterruptRequested"])
      assert.deepStrictEqual(received.get("m8"), ["ParticipantJoined"])
      assert.strictEqual(filterCalls, members + 1)
      // After a leave the address is free: nothing reaches the departed member, the others are unaffected.
      yield* env.leave("m7")
      yield* env.publish("boss", interruptFor("m7"))
      yield* env.publish("boss", interruptFor("m9"))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(received.get("m7"), ["ParticipantJoined", "InterruptRequested"])
      assert.deepStrictEqual(received.get("m9"), ["ParticipantJoined", "InterruptRequested"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("an event addressed to a member reaches it only if its kind is one that member takes addressed", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const received = new Map<string, Array<string>>()
      const member = (id: string, addressed: ReadonlyArray<Event.Payload["_tag"]>) => {
        received.set(id, [])
        return env.join(Participant.make({
          id,
          kind: "agent",
          kinds: ["ItemDone"],
          addressed,
          run: (inbox) => Stream.runForEach(inbox, (event) => Effect.sync(() => received.get(id)!.push(event.payload._tag)))
        }))
      }
      yield* member("a", ["InterruptRequested"])
      yield* member("b", ["ParticipantJoined"])
      yield* member("c", ["InterruptRequested"])
      yield* env.publish("boss", interruptFor("a"))
      yield* env.publish("boss", interruptFor("b"))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(received.get("a"), ["InterruptRequested"])
      assert.deepStrictEqual(received.get("b"), ["ParticipantJoined"])
      // A member sharing another's list of addressed kinds keeps it after the other leaves, and a rejoin is addressed afresh.
      yield* env.leave("a")
      yield* env.publish("boss", interruptFor("c"))
      yield* member("a", ["InterruptRequested"])
      yield* env.publish("boss", interruptFor("a"))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(received.get("c"), ["InterruptRequested"])
      assert.deepStrictEqual(received.get("a"), ["InterruptRequested"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("members leaving in any order leave every other member its kinds, each event once", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const received = new Map<string, Array<string>>()
      const orders: ReadonlyArray<ReadonlyArray<Event.Payload["_tag"]>> = [
        ["InterruptRequested", "ParticipantLeft"],
        ["ParticipantLeft", "InterruptRequested"],
        ["InterruptRequested", "InterruptRequested", "ParticipantLeft"]
      ]
      for (let i = 0; i < 9; i++) {
        const id = `k${i}`
        received.set(id, [])
        yield* env.join(Participant.make({
          id,
          kind: "observer",
          kinds: orders[i % 3]!,
          run: (inbox) => Stream.runForEach(inbox, (event) => Effect.sync(() => received.get(id)!.push(event.payload._tag)))
        }))
      }
      for (const id of ["k0", "k4", "k8"]) yield* env.leave(id)
      yield* env.publish("boss", interruptFor("k1"))
      yield* Effect.yieldNow()
      for (const id of ["k1", "k2", "k3", "k5", "k6", "k7"]) {
        assert.deepStrictEqual(received.get(id)!.filter((tag) => tag === "InterruptRequested"), ["InterruptRequested"], id)
      }
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Environment: live projections", () => {
  it.effect("Human.answer reads the live projection, not the journal, for every answer", () =>
    Effect.gen(function*() {
      const { counts, journal } = yield* controllable
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        for (let i = 0; i < 20; i++) {
          yield* env.publish("agent", new Event.FunctionCallRequested({ runId: "r", callId: `c${i}`, name: "shell", arguments: "{}" }))
          yield* env.publish("agent", new Event.ApprovalRequested({ runId: "r", callId: `c${i}`, name: "shell", arguments: "{}" }))
        }
        const readsBefore = counts.reads
        for (let i = 0; i < 20; i++) {
          const answered = yield* Human.answer("alice", new InputStream.Approval({ callId: `c${i}`, approved: true, reason: null }))
          assert.strictEqual(answered.payload._tag, "ApprovalAnswered")
        }
        const refused = yield* Human.answer("alice", new InputStream.Approval({ callId: "nobody", approved: true, reason: null }))
        assert.strictEqual(refused.payload._tag, "ApprovalAnswerRefused")
        // One replay to register the projection, then none: O(1) per answer.
        assert.isTrue(counts.reads - readsBefore <= 1, `${counts.reads - readsBefore} journal reads for 21 answers`)
      }).pipe(Effect.provide(onJournal(journal)))
    }))

  it.effect("a projection equals the journal replayed, including events published while it registers", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const counter = Reducer.make(0, (n: number, event) => event.payload._tag === "InterruptRequested" ? n + 1 : n)
      for (let i = 0; i < 100; i++) yield* env.publish("a", interruptFor(`${i}`))
      const registering = yield* Effect.fork(env.projection(counter))
      for (let i = 0; i < 50; i++) yield* env.publish("a", interruptFor(`${i}`))
      yield* Fiber.join(registering)
      assert.strictEqual(yield* env.projection(counter), 150)
      yield* env.publish("a", interruptFor("last"))
      assert.strictEqual(yield* env.projection(counter), 151)
      assert.strictEqual(yield* env.snapshot(counter), 151)
      yield* env.flush
      assert.strictEqual(Reducer.run(counter, yield* stored(yield* journalOf)), 151)
    }).pipe(Effect.provide(Layer.provideMerge(Environment.layer(), Layer.orDie(Journal.layerMemory)))))
})

const journalOf = Journal.Journal

describe("Environment: no silent failures", () => {
  it.effect("a participant whose service is missing makes join fail, naming it", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      // What a program run without type checking does when it forgets a layer.
      const missing = Participant.make({
        id: "needs-input",
        kind: "human",
        run: () => Effect.die(new Error("Service not found: @chorus/core/InputStream"))
      })
      const error = yield* Effect.flip(env.join(missing))
      assert.strictEqual(error._tag, "ParticipantStartFailed")
      assert.include(error.message, "needs-input")
      assert.include(error.message, "InputStream")
      assert.deepStrictEqual(yield* env.members, [])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("a participant that waits for its input, or fails on an event later, joins fine", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const input = yield* Queue.unbounded<InputStream.Input>()
      yield* env.join(Human.make({ id: "alice" })).pipe(Effect.provide(InputStream.layerQueue(input)))
      yield* env.join(Participant.observer("picky", (event) => event.payload._tag === "InterruptRequested" ? Effect.fail("no") : Effect.void))
      assert.deepStrictEqual((yield* env.members).map((member) => member.id), ["alice", "picky"])
    }).pipe(Effect.provide(Environment.layerMemory())))

  it.effect("waitFor fails when the participant it waits on fails or leaves, or the environment closes", () =>
    Effect.gen(function*() {
      const failing = yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.join(Participant.observer("worker", (event) =>
          event.payload._tag === "InterruptRequested" ? Effect.fail("crashed") : Effect.void))
        const waiting = yield* Effect.fork(env.waitFor((event) => event.author === "worker", { participant: "worker" }))
        yield* env.publish("boss", interruptFor("worker"))
        return yield* Effect.flip(Fiber.join(waiting))
      }).pipe(Effect.provide(Environment.layerMemory()))
      assert.strictEqual(failing._tag, "WaitAbandoned")
      assert.strictEqual((failing as Environment.WaitAbandoned).reason, "participant_failed")

      const leaving = yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.join(Participant.observer("worker", () => Effect.void))
        const waiting = yield* Effect.fork(env.waitFor((event) => event.author === "worker", { participant: "worker" }))
        yield* Effect.yieldNow()
        yield* env.leave("worker")
        return yield* Effect.flip(Fiber.join(waiting))
      }).pipe(Effect.provide(Environment.layerMemory()))
      assert.strictEqual((leaving as Environment.WaitAbandoned).reason, "participant_left")

      const absent = yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        return yield* Effect.flip(env.waitFor(() => false, { participant: "nobody" }))
      }).pipe(Effect.provide(Environment.layerMemory()))
      assert.strictEqual((absent as Environment.WaitAbandoned).reason, "not_a_member")

      const closed = yield* Deferred.make<Exit.Exit<Event.Event, unknown>>()
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* Effect.forkDaemon(Effect.exit(env.waitFor(() => false)).pipe(Effect.flatMap((exit) => Deferred.succeed(closed, exit))))
        yield* Effect.yieldNow()
      }).pipe(Effect.provide(Environment.layerMemory()))
      const exit = yield* Deferred.await(closed)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(Exit.isFailure(exit) ? String(exit.cause) : "", "WaitAbandoned")
    }))

  it.effect("a late observer asks for history from a sequence: no gap, no duplicate", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      for (let i = 0; i < 30; i++) yield* env.publish("a", interruptFor(`${i}`))
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const got = yield* Deferred.make<void>()
      yield* env.join(Participant.observer("late", (event) =>
        Ref.updateAndGet(seen, (all) => [...all, event.sequence]).pipe(
          Effect.flatMap((all) => all.length === 27 ? Deferred.succeed(got, undefined) : Effect.void)
        ), { from: 5 }))
      // 5..29 replayed, 30 its own join, then live 31.
      yield* env.publish("a", interruptFor("live"))
      yield* Deferred.await(got)
      assert.deepStrictEqual(yield* Ref.get(seen), Array.from({ length: 27 }, (_, i) => i + 5))
    }).pipe(Effect.provide(Environment.layerMemory())))
})

describe("Environment: replays by kind", () => {
  it.effect("a reducer that declares its kinds is replayed from those kinds only, to the same state", () =>
    Effect.gen(function*() {
      const memory = yield* Journal.makeMemory
      const asked: Array<Journal.ReadOptions | undefined> = []
      const journal: Journal.Service = {
        ...memory,
        read: (options) => {
          asked.push(options)
          return memory.read(options)
        }
      }
      const everything = Reducer.make(0, (n: number, event) => event.payload._tag === "InterruptRequested" ? n + 1 : n)
      const byKind = Reducer.make(everything.initial, everything.reduce, { kinds: ["InterruptRequested"] })
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        for (let i = 0; i < 5; i++) {
          yield* env.publish("a", interruptFor(`p${i}`))
          yield* env.publish("a", new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" }))
        }
        assert.strictEqual(yield* env.snapshot(byKind), 5)
        assert.strictEqual(yield* env.projection(byKind), 5)
        assert.strictEqual(yield* env.snapshot(everything), 5)
        assert.deepStrictEqual(asked.map((options) => options?.kinds), [["InterruptRequested"], ["InterruptRequested"], undefined])
        // Live, it folds every event as before.
        yield* env.publish("a", interruptFor("p5"))
        assert.strictEqual(yield* env.projection(byKind), 6)
      }).pipe(Effect.provide(onJournal(journal)))
    }))
})
