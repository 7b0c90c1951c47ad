/**
 * The events of one agent run, picked out of the environment's stream: the
 * run a message triggered (or joined, when steered or dequeued), or a run
 * named by id. Ends with the run's `RunEnded` (or the message's
 * `InputDropped`).
 *
 * @internal
 */
import type { Event } from "@chorus/core"
import { Stream } from "effect"

/** Which run to follow. */
export type Target =
  | { readonly _tag: "Message"; readonly itemId: string }
  | { readonly _tag: "Run"; readonly runId: string }

/** Follows one run; owned by one stream. */
export class Tracker {
  runId: string | undefined
  participant: string | undefined
  readonly items = new Set<string>()
  readonly calls = new Set<string>()
  done = false

  constructor(readonly target: Target) {
    if (target._tag === "Run") this.runId = target.runId
  }

  private isRun(runId: string | null) {
    return runId !== null && runId === this.runId
  }

  /** Is this the event that ends the run (or drops the message)? */
  ends(event: Event.Event): boolean {
    const p = event.payload
    if (p._tag === "RunEnded") return this.isRun(p.runId)
    return p._tag === "InputDropped" && this.target._tag === "Message" && p.itemId === this.target.itemId &&
      this.runId === undefined
  }

  /** Does the event belong to the run? Updates what the run owns. */
  accept(event: Event.Event): boolean {
    if (this.done) return false
    const p = event.payload
    const message = this.target._tag === "Message" ? this.target.itemId : undefined
    switch (p._tag) {
      case "RunStarted":
        if (this.runId === undefined && p.trigger !== null && p.trigger === message) this.runId = p.runId
        if (this.isRun(p.runId)) this.participant = p.participant
        return this.isRun(p.runId)
      case "InputDequeued":
      case "InputSteered":
        if (this.runId === undefined && p.itemId === message) {
          this.runId = p.runId
          this.participant = p.participant
        }
        return p.itemId === message
      case "InputQueued":
        return p.itemId === message
      case "InputDropped":
        if (p.itemId === message && this.runId === undefined) {
          this.done = true
          return true
        }
        return false
      case "ItemAdded":
      case "ItemDone":
        if (!this.isRun(p.runId)) return false
        this.items.add(p.item.id)
        if (p.item._tag === "FunctionCall") this.calls.add(p.item.callId)
        return true
      case "TextDelta":
      case "RefusalDelta":
      case "ReasoningSummaryDelta":
      case "ReasoningDelta":
      case "FunctionCallArgumentsDelta":
        return this.items.has(p.itemId)
      case "InferenceStarted":
      case "InferenceCompleted":
      case "InferenceFailed":
      case "InferenceInterrupted":
      case "RunInterrupted":
      case "StateChanged":
        return this.isRun(p.runId)
      case "FunctionCallRequested":
      case "ApprovalRequested":
        if (!this.isRun(p.runId)) return false
        this.calls.add(p.callId)
        return true
      case "ApprovalAnswered":
      case "ApprovalAnswerRefused":
      case "FunctionCallApproved":
      case "FunctionCallRejected":
      case "FunctionCallStarted":
      case "FunctionCallProgress":
      case "FunctionCallCompleted":
      case "FunctionCallFailed":
      case "FunctionCallCancelled":
      case "ClarificationRequested":
      case "ClarificationAnswered":
        return this.calls.has(p.callId)
      case "RunEnded":
        if (!this.isRun(p.runId)) return false
        this.done = true
        return true
      default:
        return false
    }
  }
}

/** The run's events out of `events`, ending with the run. */
export const follow = <E, R>(events: Stream.Stream<Event.Event, E, R>, tracker: Tracker) =>
  events.pipe(
    Stream.filter((event) => tracker.accept(event)),
    // Judged per event, not from the tracker's flag: a chunk is filtered as a whole before it is cut.
    Stream.takeUntil((event) => tracker.ends(event))
  )
