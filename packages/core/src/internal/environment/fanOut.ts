/**
 * The fan-out: every live subscriber's mailbox, each event offered to each.
 *
 * Adding and removing a mailbox is O(1) (a `Set`); delivering an event costs
 * one `offer` per mailbox — an array push, or nothing when the mailbox's
 * filter refuses it — and wakes only the readers that were waiting. The
 * mailbox (`../mailbox.ts`) bounds a lagging reader's memory.
 *
 * @internal
 */
import type * as Event from "../../Event.js"
import { Mailbox } from "../mailbox.js"

export interface FanOut {
  readonly open: (accepts: ((event: Event.Event) => boolean) | undefined) => Mailbox
  readonly close: (mailbox: Mailbox) => void
  readonly deliver: (event: Event.Event) => void
  readonly closeAll: () => void
}

export const make = (coalesceAfter: number): FanOut => {
  const mailboxes = new Set<Mailbox>()
  return {
    open: (accepts) => {
      const mailbox = new Mailbox(coalesceAfter, accepts)
      mailboxes.add(mailbox)
      return mailbox
    },
    close: (mailbox) => {
      mailboxes.delete(mailbox)
      mailbox.close()
    },
    deliver: (event) => {
      for (const mailbox of mailboxes) mailbox.offer(event)
    },
    closeAll: () => {
      for (const mailbox of mailboxes) mailbox.close()
      mailboxes.clear()
    }
  }
}
