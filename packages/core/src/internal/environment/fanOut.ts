/**
 * The fan-out: every live subscriber's mailbox, each event offered to each.
 *
 * Adding and removing a mailbox is O(1) (`Set`s); delivering an event costs
 * one `offer` per mailbox that may want it — an array push, or nothing when
 * the mailbox's filter refuses it — and wakes only the readers that were
 * waiting. Mailboxes that declare the kinds of event they take (`kinds`) are
 * indexed by kind: an event of another kind costs them nothing, so a publish
 * (a join, a leave) stays O(1) however many such members there are. The
 * mailbox (`../mailbox.ts`) bounds a lagging reader's memory.
 *
 * @internal
 */
import type * as Event from "../../Event.js"
import { Mailbox } from "../mailbox.js"

/** Which events a mailbox takes: of these kinds (all when absent), and passing `accepts` (all when absent). */
export interface Filter {
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
  readonly accepts?: ((event: Event.Event) => boolean) | undefined
}

export interface FanOut {
  readonly open: (filter: Filter) => Mailbox
  readonly close: (mailbox: Mailbox) => void
  readonly deliver: (event: Event.Event) => void
  readonly closeAll: () => void
}

export const make = (coalesceAfter: number): FanOut => {
  const everything = new Set<Mailbox>()
  const byKind = new Map<string, Set<Mailbox>>()
  const kindsOf = new Map<Mailbox, ReadonlyArray<string>>()
  return {
    open: (filter) => {
      const mailbox = new Mailbox(coalesceAfter, filter.accepts)
      if (filter.kinds === undefined) {
        everything.add(mailbox)
        return mailbox
      }
      kindsOf.set(mailbox, filter.kinds)
      for (const kind of filter.kinds) {
        let set = byKind.get(kind)
        if (set === undefined) byKind.set(kind, set = new Set())
        set.add(mailbox)
      }
      return mailbox
    },
    close: (mailbox) => {
      mailbox.close()
      if (everything.delete(mailbox)) return
      const kinds = kindsOf.get(mailbox)
      if (kinds === undefined) return
      kindsOf.delete(mailbox)
      for (const kind of kinds) byKind.get(kind)?.delete(mailbox)
    },
    deliver: (event) => {
      for (const mailbox of everything) mailbox.offer(event)
      if (byKind.size === 0) return
      const interested = byKind.get(event.payload._tag)
      if (interested !== undefined) for (const mailbox of interested) mailbox.offer(event)
    },
    closeAll: () => {
      for (const mailbox of everything) mailbox.close()
      for (const mailbox of kindsOf.keys()) mailbox.close()
      everything.clear()
      byKind.clear()
      kindsOf.clear()
    }
  }
}
