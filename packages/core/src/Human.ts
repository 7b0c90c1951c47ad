/**
 * Humans: participants fed by an `InputStream`.
 *
 * A person sends messages (optionally addressed, optionally with the policy a
 * busy agent should apply), interrupts runs, answers approvals and
 * clarification questions. An approval answer for a call nobody asked about is
 * refused visibly (`ApprovalAnswerRefused`), never silently dropped.
 *
 * @since 0.1.0
 */
import { Effect, HashMap, Random, Stream } from "effect"
import * as Commands from "./Commands.js"
import * as ContextItem from "./ContextItem.js"
import * as Environment from "./Environment.js"
import * as Event from "./Event.js"
import * as InputStream from "./InputStream.js"
import type * as Participant from "./Participant.js"

/** Options of a human participant. */
export interface Options {
  readonly id: string
}

/** Publishes a user message from `author`; returns the message. */
export const say = (
  author: string,
  text: string,
  options?: { readonly to?: ReadonlyArray<string>; readonly policy?: Event.BusyPolicy | null }
) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const id = `msg_${author}_${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}_${(yield* env.lastSequence) + 1}`
    const item = ContextItem.userText({ id, author, text })
    yield* env.publishAll(author, [
      new Event.ItemAdded({ item, runId: null }),
      new Event.ItemDone({ item, runId: null, to: options?.to ?? [], policy: options?.policy ?? null })
    ])
    return item
  })

/**
 * Answers an approval as `author`: refused visibly when no call with that id
 * waits for one. Reads the environment's live projection of the calls (O(1)
 * once registered; the first answer registers it by replaying the journal).
 */
export const answer = (author: string, approval: InputStream.Approval) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const commands = yield* Effect.orDie(env.projection(Commands.reducer))
    const command = HashMap.get(commands, approval.callId)
    if (command._tag === "None") {
      return yield* env.publish(
        author,
        new Event.ApprovalAnswerRefused({ callId: approval.callId, by: author, reason: "unknown_call" })
      )
    }
    return yield* env.publish(
      author,
      new Event.ApprovalAnswered({ callId: approval.callId, approved: approval.approved, reason: approval.reason })
    )
  })

/** Handles one input from a person. */
export const handle = (author: string, input: InputStream.Input) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    switch (input._tag) {
      case "Message":
        yield* say(author, input.text, { to: input.to, policy: input.policy })
        return
      case "Interrupt":
        yield* env.interrupt({ participant: input.participant, runId: input.runId ?? undefined, by: author })
        return
      case "Approval":
        yield* answer(author, input)
        return
      case "Answer":
        yield* env.publish(author, new Event.ClarificationAnswered({ callId: input.callId, answer: input.answer }))
        return
    }
  })

/**
 * Makes a human participant fed by the `InputStream` in context.
 *
 * @example
 * import { Effect, Queue } from "effect"
 * import { Environment, Human, InputStream } from "@chorus/core"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   const input = yield* Queue.unbounded<InputStream.Input>()
 *   yield* env.join(Human.make({ id: "alice" })).pipe(Effect.provide(InputStream.layerQueue(input)))
 *   yield* input.offer(InputStream.message("Hello"))
 * })
 */
export const make = (options: Options): Participant.Participant<never, Environment.Environment | InputStream.InputStream> => ({
  id: options.id,
  kind: "human",
  // A human reads the environment through its own UI; its inbox needs nothing.
  accepts: () => false,
  run: () =>
    Effect.gen(function*() {
      const input = yield* InputStream.InputStream
      // Registered as the human joins, so answering reads live state. While the journal is degraded its history
      // cannot be read: the first answer registers it then.
      yield* Effect.ignore(Effect.flatMap(Environment.Environment, (env) => env.projection(Commands.reducer)))
      yield* Stream.runForEach(input.stream, (item) => handle(options.id, item))
    })
})
