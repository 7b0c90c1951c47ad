import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Commands, ContextItem, Event, Reducer } from "@chorus/core"
import { Effect, HashMap, Option } from "effect"
import type * as Playwright from "playwright-core"
import * as Script from "../../examples/web-chat/Script.js"
import * as Browser from "./support/browser.js"
import * as Chat from "./support/webChat.js"

/** What a tab shows of one transcript entry. */
interface Shown {
  readonly kind: string
  readonly id: string
  readonly status: string | null
  readonly call: string | null
  readonly queued: string | null
  readonly text: string
  readonly output: string | null
  readonly badges: ReadonlyArray<string>
}

// Evaluated in the page (a string, so that the test compiles without DOM types).
const shownScript = `[...document.querySelectorAll("#transcript .item")].map((el) => ({
  kind: el.dataset.kind,
  id: el.dataset.itemId,
  status: el.dataset.status ?? null,
  call: el.dataset.callStatus ?? null,
  queued: el.dataset.queued ?? null,
  text: el.querySelector(".text, .args")?.textContent ?? "",
  output: el.querySelector(".output")?.textContent ?? null,
  badges: [...el.querySelectorAll(".badge")].map((badge) => badge.textContent)
}))`

const shown = (page: Playwright.Page) => Browser.use("read the transcript", () => page.evaluate<Array<Shown>>(shownScript))

const lastSequenceOf = (page: Playwright.Page) =>
  Browser.use("read the last sequence", async () => Number(await page.locator("body").getAttribute("data-last-sequence") ?? "-1"))

/** Opens a tab and waits until its event stream is live. */
const openTab = (context: Playwright.BrowserContext, url: string) =>
  Effect.gen(function*() {
    const page = yield* Browser.open(context, url)
    yield* Browser.use("connect", () => page.locator("#connection[data-state=live]").waitFor())
    return page
  })

/** Types a message and sends it the way a person does (Enter, or the Send button). */
const send = (page: Playwright.Page, text: string, how: "enter" | "button" = "enter") =>
  Browser.use(`send "${text}"`, async () => {
    await page.locator("#input").fill(text)
    if (how === "enter") await page.locator("#input").press("Enter")
    else await page.locator("#send").click()
  })

/** Waits until the tab has received every event published so far. */
const caughtUp = (page: Playwright.Page, env: Chat.Env) =>
  Effect.gen(function*() {
    const last = yield* env.lastSequence
    yield* Browser.until(`the tab has received event ${last}`, async () => {
      const seen = Number(await page.locator("body").getAttribute("data-last-sequence") ?? "-1")
      return seen >= last ? seen : undefined
    })
  })

const modelMessages = (page: Playwright.Page) => page.locator(`#transcript .item[data-kind="model"]`)

const transcriptItems = (env: Chat.Env) =>
  Effect.map(Effect.orDie(env.snapshot(Reducer.transcript)), Reducer.items)

const events = (env: Chat.Env) =>
  Effect.orDie(env.snapshot(Reducer.make<Array<Event.Event>>([], (all, event) => (all.push(event), all))))

const screenshotPath = fileURLToPath(new URL("./screenshots/web-chat.png", import.meta.url))

/** Waits until the agent has ended `count` runs. */
const runsEnded = (env: Chat.Env, count: number) =>
  Effect.gen(function*() {
    let seen = 0
    return yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded" && ++seen === count))
  })

describe("web-chat in headless Chromium", () => {
  describe("streaming", () => {
    it.live("an answer appears in the page as it is written, and a second tab sees the same, live", () =>
      Effect.gen(function*() {
        const { env, web } = yield* Chat.start
        const context = yield* Browser.context
        const first = yield* openTab(context, web.url)
        const second = yield* openTab(context, web.url)
        const question = "How does streaming work here?"
        yield* send(first, question)

        const answer = modelMessages(first).last()
        const mirrored = modelMessages(second).last()
        yield* Browser.use("the answer starts", () => answer.waitFor())
        // Read text, then status: a length read while the status still says in_progress was read before the end.
        const lengths: Array<number> = []
        const mirroredLengths: Array<number> = []
        while (true) {
          const text = yield* Browser.use("read the answer", () => answer.locator(".text").innerText())
          const other = yield* Browser.use("read the second tab", () => mirrored.locator(".text").innerText().catch(() => ""))
          const status = yield* Browser.use("read the status", () => answer.getAttribute("data-status"))
          if (status !== "in_progress") break
          lengths.push(text.length)
          mirroredLengths.push(other.length)
          yield* Effect.sleep("20 millis")
        }
        const full = Script.answerFor(question)
        const growing = (all: ReadonlyArray<number>) => [...new Set(all)].filter((length) => length > 0 && length < full.length)
        // Several partial lengths, never shrinking: the text grew while the item was in progress.
        assert.isAtLeast(growing(lengths).length, 3, `partial lengths seen: ${lengths.join(", ")}`)
        assert.deepStrictEqual(lengths, [...lengths].sort((a, b) => a - b))
        assert.isAtLeast(growing(mirroredLengths).length, 3, `second tab lengths: ${mirroredLengths.join(", ")}`)

        yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded"))
        yield* caughtUp(first, env)
        yield* caughtUp(second, env)
        const seen = yield* shown(first)
        assert.deepStrictEqual(seen.map((entry) => [entry.kind, entry.status]), [
          ["user", "completed"],
          ["reasoning", "completed"],
          ["model", "completed"]
        ])
        assert.strictEqual(seen[0]!.text, question)
        assert.strictEqual(seen[2]!.text, full)
        // Reasoning is there, collapsed.
        const reasoning = first.locator("details.reasoning")
        assert.isNull(yield* Browser.use("reasoning open?", () => reasoning.getAttribute("open")))
        assert.include(yield* Browser.use("reasoning text", () => reasoning.locator(".text").textContent()), "streaming")
        // The second tab shows exactly the same, and the same as the server's transcript.
        assert.deepStrictEqual(yield* shown(second), seen)
        const items = yield* transcriptItems(env)
        assert.deepStrictEqual(seen.map((entry) => entry.id), items.map((item) => item.id))
        assert.isTrue(yield* Browser.use("stop disabled", () => first.locator("#stop").isDisabled()))
      }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis")), Effect.provide(Browser.layer)))
  })

  describe("stop", () => {
    it.live("Stop mid-stream keeps the partial answer, marked incomplete, in both tabs and on the server", () =>
      Effect.gen(function*() {
        const { env, web } = yield* Chat.start
        const context = yield* Browser.context
        const first = yield* openTab(context, web.url)
        const second = yield* openTab(context, web.url)
        const question = "Tell me everything about Chorus"
        yield* send(first, question, "button")

        const answer = modelMessages(first).last()
        yield* Browser.use("the answer starts", () => answer.waitFor())
        yield* Browser.until("a few words are shown", async () =>
          (await answer.locator(".text").innerText()).length > 40 ? true : undefined)
        assert.isFalse(yield* Browser.use("stop enabled", () => first.locator("#stop").isDisabled()))
        yield* Browser.use("click Stop", () => first.locator("#stop").click())

        const ended = yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded"))
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "interrupted")
        assert.strictEqual(ended.author, "assistant")
        yield* caughtUp(first, env)
        yield* caughtUp(second, env)

        // The server's transcript has the partial answer as an incomplete item.
        const partial = (yield* transcriptItems(env)).find((item) => item._tag === "ModelMessage")
        assert.isDefined(partial)
        assert.strictEqual(partial!.status, "incomplete")
        const kept = ContextItem.text(partial!)
        const full = Script.answerFor(question)
        assert.isTrue(kept.length > 40 && kept.length < full.length && full.startsWith(kept), `kept: ${kept}`)
        // Both tabs show exactly that text, visibly marked incomplete; nothing to stop any more.
        for (const page of [first, second]) {
          const model = (yield* shown(page)).find((entry) => entry.kind === "model")!
          assert.strictEqual(model.status, "incomplete")
          assert.strictEqual(model.text, kept)
          assert.include(model.badges, "incomplete")
          assert.isTrue(yield* Browser.use("incomplete badge visible", () =>
            page.locator(`.item[data-kind="model"] .badge.incomplete`).isVisible()))
          assert.isTrue(yield* Browser.use("stop disabled", () => page.locator("#stop").isDisabled()))
        }
        // The stop is attributed to the person who clicked.
        const interrupts = (yield* events(env)).filter((event) => event.payload._tag === "InterruptRequested")
        assert.deepStrictEqual(interrupts.map((event) => event.author), ["you"])
      }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis")), Effect.provide(Browser.layer)))
  })

  describe("approvals", () => {
    it.live("approving from the page runs the tool: the note is written, and both tabs follow the call's status", () =>
      Effect.gen(function*() {
        const { env, sandbox, web } = yield* Chat.start
        const context = yield* Browser.context
        const first = yield* openTab(context, web.url)
        const second = yield* openTab(context, web.url)
        const request = "Please write a note: the launch is on Friday"
        yield* send(first, request)

        for (const page of [first, second]) {
          yield* Browser.use("the approval is asked", () => page.locator(`.call[data-call-status="awaiting_approval"]`).waitFor())
          assert.isTrue(yield* Browser.use("approve visible", () => page.locator(".call .approve").isVisible()))
          assert.isTrue(yield* Browser.use("reject visible", () => page.locator(".call .reject").isVisible()))
        }
        const note = Script.noteFor(request, 1)
        const target = Path.join(sandbox, note.filename)
        // Nothing is written before the answer; the arguments are shown.
        assert.isFalse(Fs.existsSync(target))
        // The arguments read as fields, a note's text with its real line breaks (not JSON with \n escapes).
        const fields = yield* Browser.use("arguments", () =>
          first.locator(".call .args .arg").evaluateAll((els) =>
            els.map((el) => [el.querySelector(".key")!.textContent, el.querySelector("pre")!.textContent] as const)))
        assert.deepStrictEqual(Object.fromEntries(fields), note)
        assert.notInclude(yield* Browser.use("arguments text", () => first.locator(".call .args").innerText()), "\\n")

        // Approve in the second tab: the first one follows.
        yield* Browser.use("click Approve", () => second.locator(".call .approve").click())
        for (const page of [first, second]) {
          yield* Browser.use("the call completes", () => page.locator(`.call[data-call-status="completed"]`).waitFor())
        }
        assert.strictEqual(Fs.readFileSync(target, "utf8"), note.content)

        const ended = yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded"))
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        yield* caughtUp(first, env)
        yield* caughtUp(second, env)
        const seen = yield* shown(first)
        assert.deepStrictEqual(seen.map((entry) => [entry.kind, entry.status, entry.call]), [
          ["user", "completed", null],
          ["reasoning", "completed", null],
          ["call", "completed", "completed"],
          ["model", "completed", null]
        ])
        assert.include(seen[2]!.output, `to ${note.filename}`)
        assert.match(seen[3]!.text, /^Done\. Wrote \d+ bytes to note-1\.md/)
        assert.deepStrictEqual(yield* shown(second), seen)
        // The buttons are gone once answered.
        for (const page of [first, second]) {
          assert.isFalse(yield* Browser.use("approve hidden", () => page.locator(".call .approve").isVisible()))
        }
        // The server records who approved.
        const commands = yield* Effect.orDie(env.snapshot(Commands.reducer))
        const command = Option.getOrThrow(HashMap.get(commands, [...HashMap.keys(commands)][0]!))
        assert.strictEqual(command.status, "completed")
        assert.strictEqual(command.answeredBy, "you")

      }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis")), Effect.provide(Browser.layer)))

    it.live("rejecting from the page with a reason cancels the call: nothing is written and the model is told why", () =>
      Effect.gen(function*() {
        const { env, sandbox, web } = yield* Chat.start
        const context = yield* Browser.context
        const page = yield* openTab(context, web.url)
        yield* send(page, "Save a note about the budget")
        yield* Browser.use("the approval is asked", () => page.locator(`.call[data-call-status="awaiting_approval"]`).waitFor())
        yield* Browser.use("click Reject", () => page.locator(".call .reject").click())
        yield* Browser.use("give a reason", () => page.locator(".call .reason").fill("keep the budget private"))
        yield* Browser.use("confirm with Enter", () => page.locator(".call .reason").press("Enter"))
        yield* Effect.orDie(env.waitFor((event) => event.payload._tag === "RunEnded"))
        yield* caughtUp(page, env)
        const seen = yield* shown(page)
        assert.strictEqual(seen.find((entry) => entry.kind === "call")!.call, "rejected")
        assert.match(seen[seen.length - 1]!.text, /^The note was not written: The call was rejected by you/)
        assert.include(seen[seen.length - 1]!.text, "keep the budget private")
        assert.include(seen.find((entry) => entry.kind === "call")!.text + (yield* Browser.use("answered", () => page.locator(".call .answered").innerText())), "keep the budget private")
        assert.deepStrictEqual(Fs.readdirSync(sandbox), [])
      }).pipe(Effect.scoped, Effect.provide(Chat.layer("10 millis")), Effect.provide(Browser.layer)))
  })

  describe("queue", () => {
    it.live("a message sent while the agent works shows as queued, then gets handled", () =>
      Effect.gen(function*() {
        const { env, web } = yield* Chat.start
        const context = yield* Browser.context
        const first = yield* openTab(context, web.url)
        const second = yield* openTab(context, web.url)
        yield* send(first, "First question")
        // Sent while the agent is still reasoning: the message must not split the turn.
        yield* Browser.use("the agent reasons", () => first.locator("details.reasoning").first().waitFor())
        assert.strictEqual(yield* Browser.use("no answer yet", () => modelMessages(first).count()), 0)
        yield* send(second, "Second question")

        // Queued, in both tabs, pinned below the turn going on.
        const queued = `#queue .item[data-kind="user"][data-queued="true"]`
        for (const page of [first, second]) {
          yield* Browser.use("the message is queued", () => page.locator(queued).waitFor())
          assert.strictEqual(yield* Browser.use("badge", () => page.locator(`${queued} .badge.queued`).innerText()), "queued")
          assert.strictEqual(yield* Browser.use("queued text", () => page.locator(`${queued} .text`).innerText()), "Second question")
        }
        assert.strictEqual(
          yield* Browser.use("first answer status", () => modelMessages(first).first().getAttribute("data-status")),
          "in_progress"
        )

        // Then handled: the badge goes and a second answer follows it.
        yield* Browser.until("the second answer is complete", async () =>
          (await modelMessages(first).count()) === 2 &&
            (await modelMessages(first).nth(1).getAttribute("data-status")) === "completed"
            ? true
            : undefined)
        yield* runsEnded(env, 2)
        yield* caughtUp(first, env)
        yield* caughtUp(second, env)
        const seen = yield* shown(first)
        assert.deepStrictEqual(seen.map((entry) => [entry.kind, entry.status, entry.queued, entry.badges.length]), [
          ["user", "completed", null, 0],
          ["reasoning", "completed", null, 0],
          ["model", "completed", null, 0],
          ["user", "completed", null, 0],
          ["reasoning", "completed", null, 0],
          ["model", "completed", null, 0]
        ])
        assert.strictEqual(seen[2]!.text, Script.answerFor("First question"))
        assert.strictEqual(seen[3]!.text, "Second question")
        assert.strictEqual(seen[5]!.text, Script.answerFor("Second question"))
        assert.deepStrictEqual(yield* shown(second), seen)
        // A reload paints the same, from the snapshot: the queued message where it was handled.
        yield* Browser.use("reload", () => first.reload())
        yield* Browser.use("live again", () => first.locator("#connection[data-state=live]").waitFor())
        assert.deepStrictEqual(yield* shown(first), seen)
        // On the server: queued, then dequeued, never dropped.
        const all = yield* events(env)
        const queuedId = seen[3]!.id
        const tags = all.filter((event) => "itemId" in event.payload && event.payload.itemId === queuedId &&
          event.payload._tag.startsWith("Input")).map((event) => event.payload._tag)
        assert.deepStrictEqual(tags, ["InputQueued", "InputDequeued"])
        assert.strictEqual(yield* lastSequenceOf(first), yield* env.lastSequence)
      }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis")), Effect.provide(Browser.layer)))
  })

  describe("a session", () => {
    it.live("a note, a stop with a message waiting, the queued message handled: three tabs agree, and a screenshot", () =>
      Effect.gen(function*() {
        const { env, sandbox, web } = yield* Chat.start
        const context = yield* Browser.makeContext({ width: 1000, height: 1180 })
        const first = yield* openTab(context, web.url)
        const second = yield* openTab(context, web.url)

        // A note, approved from the first tab.
        yield* send(first, "Remember this as a note: demo on Monday")
        yield* Browser.use("the approval is asked", () => first.locator(`.call[data-call-status="awaiting_approval"]`).waitFor())
        yield* Browser.use("click Approve", () => first.locator(".call .approve").click())
        yield* runsEnded(env, 1)
        assert.isTrue(Fs.existsSync(Path.join(sandbox, "note-1.md")))

        // A long answer; a second message while it streams; Stop from the second tab.
        yield* send(first, "Explain how stopping works")
        const streaming = modelMessages(first).nth(1)
        yield* Browser.until("the second answer has a few words", async () =>
          (await streaming.count()) === 1 && (await streaming.locator(".text").innerText()).length > 40 ? true : undefined)
        yield* send(second, "And what about queues?", "button")
        yield* Browser.use("queued", () => first.locator(`.item[data-queued="true"]`).waitFor())
        yield* Browser.until("Stop is enabled in the second tab", async () =>
          (await second.locator("#stop").isEnabled()) ? true : undefined)
        yield* Browser.use("click Stop", () => second.locator("#stop").click())

        // The stopped answer stays, incomplete; the queued message is handled next.
        const stopped = yield* runsEnded(env, 2)
        assert.strictEqual((stopped.payload as Event.RunEnded).outcome, "interrupted")
        const third = modelMessages(first).nth(2)
        yield* Browser.until("the queued message's answer streams", async () =>
          (await third.count()) === 1 && (await third.locator(".text").innerText()).length > 120 ? true : undefined)
        Fs.mkdirSync(Path.dirname(screenshotPath), { recursive: true })
        yield* Browser.use("screenshot", () => first.screenshot({ path: screenshotPath }))

        const ended = yield* runsEnded(env, 3)
        assert.strictEqual((ended.payload as Event.RunEnded).outcome, "completed")
        // A tab opened now replays the whole session.
        const late = yield* openTab(context, web.url)
        for (const page of [first, second, late]) yield* caughtUp(page, env)
        const seen = yield* shown(first)
        assert.deepStrictEqual(seen.map((entry) => [entry.kind, entry.status, entry.call, entry.queued]), [
          ["user", "completed", null, null],
          ["reasoning", "completed", null, null],
          ["call", "completed", "completed", null],
          ["model", "completed", null, null],
          ["user", "completed", null, null],
          ["reasoning", "completed", null, null],
          ["model", "incomplete", null, null],
          ["user", "completed", null, null],
          ["reasoning", "completed", null, null],
          ["model", "completed", null, null]
        ])
        assert.strictEqual(seen[7]!.text, "And what about queues?")
        assert.include(yield* Browser.use("notices", () => first.locator(".notice").allInnerTexts()), "assistant was stopped by you")
        assert.strictEqual(seen[9]!.text, Script.answerFor("And what about queues?"))
        assert.deepStrictEqual(yield* shown(second), seen)
        assert.deepStrictEqual(yield* shown(late), seen)
        // The server's transcript agrees, item by item.
        const items = yield* transcriptItems(env)
        // (the call's output is shown in the call's card, not as an entry of its own).
        assert.deepStrictEqual(
          items.filter((item) => item._tag !== "FunctionCallOutput").map((item) => [item.id, item.status]),
          seen.map((entry) => [entry.id, entry.status])
        )
      }).pipe(Effect.scoped, Effect.provide(Chat.layer("30 millis")), Effect.provide(Browser.layer)))
  })
})
