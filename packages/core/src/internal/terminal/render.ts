/**
 * What the terminal draws from its screen model (`view.ts`): the live region
 * of streaming items and queued messages, the input line's prompt and the
 * hint above it.
 *
 * @internal
 */
import { body, header, indent } from "./format.js"
import type { Line } from "./text.js"
import { oneLine } from "./text.js"
import { type Block, busy, currentPrompt, type View } from "./view.js"

const blockLines = (view: View, block: Block): Array<Line> => {
  switch (block.kind) {
    case "message":
      return [header(block.author), ...body(block.text, view.width, "plain")]
    case "reasoning":
      return [header(block.author, "thinking"), ...body(block.text, view.width, "dim")]
    case "call":
      // Arguments show once, formatted, when they are complete.
      return [header(block.author, `⚙ ${block.name}`, "cyan"), [{ text: `${indent}receiving arguments… (${Array.from(block.text).length} characters)`, style: "dim" }]]
  }
}

/**
 * The live region: each streaming item's block (its header and as many of
 * its last rows as fit in `rows`), then the queued messages.
 */
export const live = (view: View, rows: number): Array<Line> => {
  const queued = view.queued.map((entry): Line => [
    { text: `${indent}⧗ queued for ${entry.participant}: ${oneLine(entry.text, Math.max(10, view.width - entry.participant.length - 20))}`, style: "dim" }
  ])
  const room = Math.max(0, rows - queued.length)
  const blocks = view.open.map((block) => blockLines(view, block))
  const share = blocks.length === 0 ? 0 : Math.max(2, Math.floor(room / blocks.length))
  const shown = blocks.flatMap(([head, ...rest]) => {
    if (head === undefined) return []
    if (rest.length < share) return [head, ...rest]
    return [head, [{ text: `${indent}…`, style: "dim" as const }], ...rest.slice(rest.length - (share - 2))]
  })
  return [...shown.slice(Math.max(0, shown.length - room)), ...queued.slice(0, rows)]
}

/** The input line's prompt. */
export const promptText = (view: View): { readonly text: string; readonly style: "yellow" | "bold" } => {
  const prompt = currentPrompt(view)
  if (prompt?._tag === "Approval") return { text: `approve ${prompt.name}? › `, style: "yellow" }
  if (prompt?._tag === "Question") return { text: `answer ${prompt.author} › `, style: "yellow" }
  if (prompt?._tag === "Elicitation") return { text: `answer ${prompt.server} › `, style: "yellow" }
  return { text: `${view.human} › `, style: "bold" }
}

/** The line above the input line: how to answer the question asked, or who is working. */
export const hint = (view: View): Line | undefined => {
  const prompt = currentPrompt(view)
  if (prompt?._tag === "Approval") {
    return [{ text: `${indent}y approves · n [reason] rejects · anything else rejects and says what to do instead`, style: "yellow" }]
  }
  if (prompt?._tag === "Question") return [{ text: `${indent}${oneLine(prompt.question, view.width - 4)}`, style: "yellow" }]
  if (prompt?._tag === "Elicitation") {
    return [{ text: `${indent}name=value, … (or a JSON object) answers · decline · cancel`, style: "yellow" }]
  }
  const working = busy(view)
  if (working.length > 0) return [{ text: `${indent}${working.join(", ")} working · Ctrl-C stops`, style: "dim" }]
  return undefined
}
