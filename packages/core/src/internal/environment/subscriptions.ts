/**
 * Reading an environment: its history (from the journal once durable; during an outage, the durable part from the
 * journal and the rest from the writer's memory) and subscriptions that join history to the live mailbox with no
 * gap and no duplicate.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Chunk, Effect, Option, Stream } from "effect"
import type * as Environment from "../../Environment.js"
import type * as Event from "../../Event.js"
import type * as Journal from "../../Journal.js"
import type * as Participant from "../../Participant.js"
import type { Mailbox } from "../mailbox.js"
import type { FanOut } from "./fanOut.js"
import type { JournalWriter } from "./journalWriter.js"

type Kinds = ReadonlyArray<Event.Payload["_tag"]> | undefined

export interface Subscriptions {
  /** Events `[from, to]` (of these kinds when given). */
  readonly history: (from: number, to: number, kinds?: Kinds) => Stream.Stream<Event.Event, Journal.JournalError | Journal.JournalCorrupted>
  /** A mailbox read as a stream of chunks of at most `max` events, ending when the mailbox closes. */
  readonly live: (mailbox: Mailbox, max: number) => Participant.Inbox
  readonly subscribe: (options?: Environment.SubscribeOptions) => Effect.Effect<Environment.Subscription, never, Scope.Scope>
}

export const make = (options: {
  readonly journal: Journal.Service
  readonly writer: JournalWriter
  readonly fanOut: FanOut
  readonly last: () => number
}): Subscriptions => {
  const { fanOut, journal, last: lastOf, writer } = options

  /**
   * Events `[from, to]` from the journal once they are durable; while the journal is degraded (flush fails), the
   * journal up to what is durable and the rest from the writer's memory, so an outage does not stop a read.
   */
  const history = (from: number, to: number, kinds?: Kinds) =>
    Stream.unwrap(Effect.match(writer.flushUpTo(to), {
      onSuccess: () => journal.read({ from, to, kinds }),
      onFailure: () => duringOutage(from, to, kinds)
    }))
  const duringOutage = (from: number, to: number, kinds: Kinds) =>
    Stream.suspend(() => {
      const { durable, tail } = writer.unwritten(from, to)
      const stored = from <= durable ? journal.read({ from, to: Math.min(to, durable), kinds }) : Stream.empty
      const rest = kinds === undefined ? tail : tail.filter((event) => kinds.includes(event.payload._tag))
      return rest.length === 0 ? stored : Stream.concat(stored, Stream.fromIterable(rest))
    })

  const live = (mailbox: Mailbox, max: number): Participant.Inbox =>
    Stream.repeatEffectChunkOption(
      Effect.flatMap(mailbox.take(max), (chunk) => Chunk.isEmpty(chunk) ? Effect.fail(Option.none()) : Effect.succeed(chunk))
    )

  // Registers the live mailbox and notes the last sequence in one synchronous step:
  // replay covers [from, last], live covers (last, ...): no gap, no duplicate.
  const open = (subscribeOptions: Environment.SubscribeOptions | undefined) => {
    const last = lastOf()
    const accepts = subscribeOptions?.accepts
    const kinds = subscribeOptions?.kinds
    const mailbox = fanOut.open({ accepts, kinds })
    const from = subscribeOptions?.from
    const stream: Environment.Subscription["stream"] = from === undefined || from > last
      ? live(mailbox, Number.POSITIVE_INFINITY)
      : Stream.concat(
        // The journal decodes only these kinds; the filter stays for journals that do not filter.
        history(from, last, kinds).pipe(
          kinds === undefined ? (s) => s : Stream.filter((event) => kinds.includes(event.payload._tag)),
          accepts === undefined ? (s) => s : Stream.filter(accepts)
        ),
        live(mailbox, Number.POSITIVE_INFINITY)
      )
    return {
      mailbox,
      subscription: {
        stream,
        backlog: Effect.sync(() => mailbox.backlog),
        coalesced: Effect.sync(() => mailbox.coalesced)
      } satisfies Environment.Subscription
    }
  }

  const subscribe = (subscribeOptions?: Environment.SubscribeOptions) =>
    Effect.acquireRelease(
      Effect.sync(() => open(subscribeOptions)),
      ({ mailbox }) => Effect.sync(() => fanOut.close(mailbox))
    ).pipe(Effect.map(({ subscription }) => subscription))

  return { history, live, subscribe }
}
