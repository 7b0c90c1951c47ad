// An MCP elicitation answered from the web chat, end to end: the example with server-everything attached (a real
// MCP server from npm, over stdio), the scripted model calling its `trigger-elicitation-request` tool, the page in
// headless Chromium showing the server's form, a person filling it in, and the server's answer in the transcript.
import { assert, describe, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Environment, Event, Journal, Reducer } from "@chorus/core"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type * as Playwright from "playwright-core"
import * as Script from "../../examples/web-chat/Script.js"
import * as WebChat from "../../examples/web-chat/WebChat.js"
import * as Browser from "./support/browser.js"
import * as Chat from "./support/webChat.js"

const screenshotPath = fileURLToPath(new URL("./screenshots/web-chat-elicitation.png", import.meta.url))

const root = fileURLToPath(new URL("../..", import.meta.url))

const start = Effect.gen(function*() {
  const sandbox = yield* Chat.tempDirectory
  const web = yield* WebChat.make({ sandbox, ...WebChat.everything() })
  const env = yield* Environment.Environment
  return { web, env }
})

/** The web chat with server-everything on a JSONL journal, in a scope of its own: `stop` is a process exit. */
const startOnJournal = (journal: string, sandbox: string, port?: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Layer.mergeAll(
        Environment.layer().pipe(Layer.provide(Journal.layerFile(journal)), Layer.provide(NodeContext.layer)),
        Script.layer({ latency: "5 millis" }),
        NodeContext.layer
      ),
      scope
    )
    const web = yield* WebChat.make({ sandbox, port, ...WebChat.everything() }).pipe(
      Effect.provide(context),
      Scope.extend(scope),
      Effect.orDie
    )
    return { web, env: Context.get(context, Environment.Environment), stop: Scope.close(scope, Exit.void) }
  }).pipe(Effect.orDie)

const openTab = (context: Playwright.BrowserContext, url: string) =>
  Effect.gen(function*() {
    const page = yield* Browser.open(context, url)
    yield* Browser.use("connect", () => page.locator("#connection[data-state=live]").waitFor())
    return page
  })

const send = (page: Playwright.Page, text: string) =>
  Browser.use(`send "${text}"`, async () => {
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
  })

const events = (env: Chat.Env) =>
  Effect.orDie(env.snapshot(Reducer.make<Array<Event.Event>>([], (all, event) => (all.push(event), all))))

const payloads = <T extends Event.Payload["_tag"]>(all: ReadonlyArray<Event.Event>, tag: T) =>
  all.flatMap((event) => event.payload._tag === tag ? [event.payload as Extract<Event.Payload, { readonly _tag: T }>] : [])

/** Waits until the agent has ended `count` runs. */
const runsEnded = (env: Chat.Env, count: number) =>
  Effect.gen(function*() {
    while (payloads(yield* events(env), "RunEnded").length < count) yield* Effect.sleep("20 millis")
  })

const pendingForm = (page: Playwright.Page) => page.locator(`.elicitation[data-state="pending"] form`)

/** Sends a message that asks for a form; waits until the tab shows the server's form. */
const askForForm = (page: Playwright.Page, env: Chat.Env) =>
  Effect.gen(function*() {
    const from = (yield* env.lastSequence) + 1
    yield* send(page, "Please sign me up")
    const requested = yield* env.waitFor((event) => event.payload._tag === "ElicitationRequested", { from })
    yield* Browser.use("the form appears", () => pendingForm(page).waitFor())
    return requested.payload as Event.ElicitationRequested
  })

// What the tab shows of the form: each field's kind and current value, and the labels of its choices.
const fieldsScript = `Object.fromEntries([...document.querySelectorAll('.elicitation[data-state="pending"] .field')].map((el) => {
  const kind = el.dataset.kind
  const select = el.querySelector("select")
  const boxes = [...el.querySelectorAll("input[type=checkbox]")]
  const input = el.querySelector("input:not([type=checkbox])")
  const value = kind === "boolean" ? boxes[0].checked
    : kind === "multi-select" ? boxes.filter((box) => box.checked).map((box) => box.value)
    : select ? select.value : input.value
  const choices = select ? [...select.options].slice(1).map((option) => option.textContent)
    : kind === "multi-select" ? boxes.map((box) => box.parentElement.textContent.trim()) : null
  return [el.dataset.field, { kind, value, choices, type: input ? input.type : null }]
}))`

interface Field {
  readonly kind: string
  readonly value: unknown
  readonly choices: ReadonlyArray<string> | null
  readonly type: string | null
}

describe("web-chat: an MCP server's elicitation answered in the page", () => {
  it.live("the form shows every field with its defaults; a refused answer shows why; the accepted one reaches the server and the transcript", () =>
    Effect.gen(function*() {
      const { env, web } = yield* start
      // Tall enough for the whole form in the screenshot.
      const context = yield* Browser.makeContext({ width: 1000, height: 1500 })
      const page = yield* openTab(context, web.url)
      const request = yield* askForForm(page, env)
      assert.strictEqual(request.server, "everything")

      const card = page.locator(`.elicitation[data-elicitation-id="${request.elicitationId}"]`)
      assert.strictEqual(yield* Browser.use("message", () => card.locator(".message").textContent()), request.message)
      // Shown under the call that caused it.
      assert.strictEqual(yield* Browser.use("call id", () => card.getAttribute("data-call-id")), request.callId)
      const fields = yield* Browser.use("read the fields", () => page.evaluate<Record<string, Field>>(fieldsScript))
      assert.deepStrictEqual(fields["name"], { kind: "string", value: "", choices: null, type: "text" })
      assert.deepStrictEqual(fields["check"], { kind: "boolean", value: false, choices: null, type: null })
      assert.strictEqual(fields["firstLine"]?.value, "It was a dark and stormy night.")
      assert.strictEqual(fields["email"]?.type, "email")
      assert.strictEqual(fields["homepage"]?.type, "url")
      assert.strictEqual(fields["birthdate"]?.type, "date")
      assert.deepStrictEqual(fields["integer"], { kind: "integer", value: "42", choices: null, type: "number" })
      assert.deepStrictEqual(fields["number"], { kind: "number", value: "3.14", choices: null, type: "number" })
      assert.deepStrictEqual(fields["untitledSingleSelectEnum"], {
        kind: "select",
        value: "Monica",
        choices: ["Monica", "Rachel", "Joey", "Chandler", "Ross", "Phoebe"],
        type: null
      })
      assert.deepStrictEqual(fields["titledSingleSelectEnum"], {
        kind: "select",
        value: "hero-1",
        choices: ["Superman", "Green Lantern", "Wonder Woman"],
        type: null
      })
      assert.deepStrictEqual(fields["untitledMultipleSelectEnum"]?.value, ["Guitar"])
      assert.deepStrictEqual(fields["titledMultipleSelectEnum"], {
        kind: "multi-select",
        value: ["fish-1"],
        choices: ["Tuna", "Salmon", "Trout"],
        type: null
      })
      assert.deepStrictEqual(fields["legacyTitledEnum"]?.choices, ["Cats", "Dogs", "Birds", "Fish", "Reptiles"])
      assert.strictEqual(fields["legacyTitledEnum"]?.value, "pet-1")
      // For a person to look at (committed): the form as the page draws it.
      yield* Browser.use("screenshot", () => page.screenshot({ path: screenshotPath }))
      // The required field is marked.
      assert.strictEqual(yield* Browser.use("required mark", () => card.locator(`[data-field="name"] .required`).count()), 1)

      // An answer that does not fit the form: the server refuses it with every problem, the form stays open.
      yield* Browser.use("fill in a bad answer", async () => {
        await card.locator(`[data-field="name"] input`).fill("Ada Lovelace")
        await card.locator(`[data-field="integer"] input`).fill("500")
        await card.locator(`[data-field="email"] input`).fill("not an email")
        await card.locator("button.accept").click()
      })
      const problem = yield* Browser.until("the refusal is shown", async () => {
        const text = await card.locator(".problem").textContent()
        return text !== null && text !== "" ? text : undefined
      })
      assert.include(problem, "\"integer\" must be at most 100")
      assert.include(problem, "\"email\"")
      assert.strictEqual(yield* Browser.use("still open", () => pendingForm(page).count()), 1)
      assert.deepStrictEqual(payloads(yield* events(env), "ElicitationAnswered"), [])

      // The person corrects it and picks from every kind of field.
      yield* Browser.use("fill in the answer", async () => {
        await card.locator(`[data-field="integer"] input`).fill("7")
        await card.locator(`[data-field="email"] input`).fill("ada@example.org")
        await card.locator(`[data-field="check"] input`).check()
        await card.locator(`[data-field="untitledSingleSelectEnum"] select`).selectOption({ label: "Joey" })
        await card.locator(`[data-field="titledSingleSelectEnum"] select`).selectOption({ label: "Wonder Woman" })
        await card.locator(`[data-field="titledMultipleSelectEnum"] label`, { hasText: "Salmon" }).locator("input").check()
        await card.locator(`[data-field="legacyTitledEnum"] select`).selectOption({ label: "Birds" })
        await card.locator("button.accept").click()
      })
      yield* Browser.use("the form closes", () => page.locator(`.elicitation[data-state="accept"]`).waitFor())
      assert.strictEqual(yield* Browser.use("no form", () => card.locator("form").count()), 0)
      assert.strictEqual(yield* Browser.use("outcome", () => card.locator(".outcome").textContent()), `answered by ${web.human}`)

      // The server received the content (defaults filled in for what the person left alone).
      yield* runsEnded(env, 1)
      const all = yield* events(env)
      const resolved = payloads(all, "ElicitationResolved")
      assert.strictEqual(resolved.length, 1)
      assert.strictEqual(resolved[0]!.by, web.human)
      assert.deepStrictEqual(resolved[0]!.content, {
        name: "Ada Lovelace",
        check: true,
        firstLine: "It was a dark and stormy night.",
        email: "ada@example.org",
        integer: 7,
        number: 3.14,
        untitledSingleSelectEnum: "Joey",
        untitledMultipleSelectEnum: ["Guitar"],
        titledSingleSelectEnum: "hero-3",
        titledMultipleSelectEnum: ["fish-1", "fish-2"],
        legacyTitledEnum: "pet-3"
      })
      // The tool's result, as the server wrote it, is in the page under the call, and the model answered from it.
      const call = page.locator(`.call[data-call-id="${request.callId}"]`)
      yield* Browser.use("the call completes", () => page.locator(`.call[data-call-status="completed"]`).waitFor())
      const output = (yield* Browser.use("call output", () => call.locator(".output").textContent())) ?? ""
      assert.include(output, "- Name: Ada Lovelace")
      assert.include(output, "- Email: ada@example.org")
      assert.include(output, "- Favorite Integer: 7")
      assert.include(output, "\"titledSingleSelectEnum\": \"hero-3\"")
      const answer = yield* Browser.until("the model's answer", async () => {
        const texts = await page.locator(`#transcript .item[data-kind="model"]`).allTextContents()
        return texts.find((text) => text.includes("The server answered"))
      })
      assert.include(answer, "Agreed to terms: true")
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("5 millis")), Effect.provide(Browser.layer)))

  it.live("Decline goes back to the server as a decline, and both tabs close the form", () =>
    Effect.gen(function*() {
      const { env, web } = yield* start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      yield* askForForm(page, env)
      // A tab opened while the server waits paints the form from the snapshot.
      const other = yield* openTab(context, web.url)
      yield* Browser.use("the other tab shows the form", () => pendingForm(other).waitFor())
      yield* Browser.use("decline", () => page.locator(".elicitation button.decline").click())
      for (const tab of [page, other]) {
        yield* Browser.use("the form closes", () => tab.locator(`.elicitation[data-state="decline"]`).waitFor())
        assert.strictEqual(yield* Browser.use("no form", () => tab.locator(".elicitation form").count()), 0)
      }
      yield* runsEnded(env, 1)
      assert.deepStrictEqual(payloads(yield* events(env), "ElicitationResolved").map((r) => [r.action, r.content]), [["decline", null]])
      const output = yield* Browser.until("the call's output", async () => {
        const text = await page.locator(".call .output").textContent().catch(() => null)
        return text ?? undefined
      })
      assert.include(output, "User declined")
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("5 millis")), Effect.provide(Browser.layer)))

  it.live("Stop while the form waits cancels the elicitation: the form closes and a late answer is refused", () =>
    Effect.gen(function*() {
      const { env, web } = yield* start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      const request = yield* askForForm(page, env)
      yield* Browser.use("fill in, but do not send", () => page.locator(`[data-field="name"] input`).fill("Ada"))
      // Escape inside the form (leaving a field, closing a list) does not stop the agent.
      yield* Browser.use("escape in the form", () => page.locator(`[data-field="name"] input`).press("Escape"))
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(payloads(yield* events(env), "InterruptRequested"), [])
      assert.strictEqual(yield* Browser.use("still open", () => pendingForm(page).count()), 1)
      yield* Browser.use("stop", () => page.locator("#stop").click())
      yield* Browser.use("the form closes", () => page.locator(`.elicitation[data-state="cancelled"]`).waitFor())
      assert.strictEqual(yield* Browser.use("no form", () => page.locator(".elicitation form").count()), 0)
      assert.strictEqual(
        yield* Browser.use("outcome", () => page.locator(".elicitation .outcome").textContent()),
        "Cancelled: the agent was interrupted"
      )
      yield* runsEnded(env, 1)
      const all = yield* events(env)
      assert.deepStrictEqual(payloads(all, "ElicitationCancelled").map((c) => c.elicitationId), [request.elicitationId])
      assert.deepStrictEqual(payloads(all, "ElicitationResolved"), [])
      // An answer that arrives after the cancel (another tab, a slow client) is refused: 409, nothing published.
      const late = yield* Browser.use("a late answer", () =>
        page.evaluate(async (id) => {
          const response = await fetch("elicitations", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ elicitationId: id, action: "accept", content: { name: "Ada" } })
          })
          return { status: response.status, body: await response.json() as { error: string } }
        }, request.elicitationId))
      assert.strictEqual(late.status, 409)
      assert.include(late.body.error, "already ended")
      assert.deepStrictEqual(payloads(yield* events(env), "ElicitationAnswered"), [])
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("5 millis")), Effect.provide(Browser.layer)))

  it.live("a crash of the MCP server while the form waits closes it, and the call fails visibly", () =>
    Effect.gen(function*() {
      const { env, web } = yield* start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      yield* askForForm(page, env)
      const pid = (yield* web.mcp!.status)[0]!.pid!
      process.kill(pid, "SIGKILL")
      yield* Browser.use("the form closes", () => page.locator(`.elicitation[data-state="cancelled"]`).waitFor())
      assert.strictEqual(yield* Browser.use("no form", () => page.locator(".elicitation form").count()), 0)
      yield* Browser.use("the call fails", () => page.locator(`.call[data-call-status="failed"]`).waitFor())
      yield* runsEnded(env, 1)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("5 millis")), Effect.provide(Browser.layer)))

  it.live("an MCP server's authorization URL is shown as a link; a URL that is not http(s) stays text", () =>
    Effect.gen(function*() {
      const { env, web } = yield* start
      const context = yield* Browser.context
      const page = yield* openTab(context, web.url)
      // What McpEnvironment.authorization publishes when a server needs OAuth (tested against a real
      // authorization server in test/mcp/oauth.test.ts).
      const url = "http://127.0.0.1:9/authorize?response_type=code&client_id=chorus&state=s1"
      yield* env.publish("mcp", new Event.AuthorizationRequested({ server: "calendar", url }))
      yield* env.publish("mcp", new Event.AuthorizationRequested({ server: "evil", url: "javascript:alert(1)" }))
      const link = page.locator(".notice.authorization a")
      yield* Browser.use("the link appears", () => link.waitFor())
      assert.strictEqual(yield* Browser.use("href", () => link.getAttribute("href")), url)
      assert.strictEqual(yield* Browser.use("text", () => link.textContent()), "authorize calendar")
      yield* Browser.until("both notices", async () => (await page.locator(".notice.authorization").count()) === 2 || undefined)
      const notices = yield* Browser.use("notices", () => page.locator(".notice.authorization").allTextContents())
      assert.include(notices[1]!, "javascript:alert(1)")
      assert.strictEqual(yield* Browser.use("one link", () => page.locator(".notice.authorization a").count()), 1)
    }).pipe(Effect.scoped, Effect.provide(Chat.layer("5 millis")), Effect.provide(Browser.layer)))

  it.live("a graceful restart while the form waits cancels the elicitation: the open tab closes the form", () =>
    Effect.gen(function*() {
      const directory = yield* Chat.tempDirectory
      const journal = Path.join(directory, "chat.jsonl")
      const first = yield* startOnJournal(journal, directory)
      const context = yield* Browser.context
      const page = yield* openTab(context, first.web.url)
      const request = yield* askForForm(page, first.env)
      yield* first.stop
      // Same journal, same port: the open tab reconnects and goes on.
      const second = yield* startOnJournal(journal, directory, first.web.port)
      yield* Effect.addFinalizer(() => second.stop)
      yield* Browser.use("the form closes", () => page.locator(`.elicitation[data-state="cancelled"]`).waitFor())
      const all = yield* events(second.env)
      assert.deepStrictEqual(payloads(all, "ElicitationCancelled").map((c) => c.elicitationId), [request.elicitationId])
      // A fresh tab has no form waiting, and asking again works on the new connection.
      const fresh = yield* openTab(context, second.web.url)
      assert.strictEqual(yield* Browser.use("no form", () => pendingForm(fresh).count()), 0)
      const again = yield* askForForm(fresh, second.env)
      assert.notStrictEqual(again.elicitationId, request.elicitationId)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer), Effect.provide(Browser.layer)))

  it.live("a crash of the web chat process (SIGKILL) while the form waits: on restart the orphaned elicitation is cancelled and the form closes", () =>
    Effect.gen(function*() {
      const directory = yield* Chat.tempDirectory
      const journal = Path.join(directory, "chat.jsonl")
      // The example's own main.ts, as `pnpm web-chat` runs it, in a process of its own.
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          ChildProcess.spawn(process.execPath, ["--import", "tsx", "examples/web-chat/main.ts"], {
            cwd: root,
            env: { ...process.env, WEB_CHAT_EVERYTHING: "true", PORT: "0", WEB_CHAT_JOURNAL: journal, WEB_CHAT_NOTES: directory },
            stdio: ["ignore", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
      )
      const url = yield* Effect.async<string, Error>((resume) => {
        let output = ""
        child.stdout!.on("data", (chunk: Buffer) => {
          output += chunk.toString()
          const found = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)
          if (found) resume(Effect.succeed(found[1]!))
        })
        child.once("exit", (code) => resume(Effect.fail(new Error(`web-chat exited (${code}): ${output}`))))
      }).pipe(Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error("web-chat did not start") }))
      const context = yield* Browser.context
      const page = yield* openTab(context, url)
      yield* send(page, "Please sign me up")
      yield* Browser.use("the form appears", () => pendingForm(page).waitFor())
      const id = yield* Browser.use("its id", () => page.locator(".elicitation").getAttribute("data-elicitation-id"))
      // The process dies at once: nothing gets to say the elicitation ended.
      const children = ChildProcess.execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)]).toString()
        .split("\n").map((line) => Number(line.trim())).filter((pid) => pid > 0)
      child.kill("SIGKILL")
      yield* Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) resume(Effect.void)
        else child.once("exit", () => resume(Effect.void))
      })
      for (const pid of children) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone
        }
      }

      const port = Number(new URL(url).port)
      const second = yield* startOnJournal(journal, directory, port)
      yield* Effect.addFinalizer(() => second.stop)
      yield* Browser.use("the form closes", () => page.locator(`.elicitation[data-state="cancelled"]`).waitFor())
      assert.include(
        (yield* Browser.use("outcome", () => page.locator(".elicitation .outcome").textContent())) ?? "",
        "the web chat restarted"
      )
      const cancelled = payloads(yield* events(second.env), "ElicitationCancelled")
      assert.deepStrictEqual(cancelled.map((c) => c.elicitationId), [id])
      const fresh = yield* openTab(context, second.web.url)
      assert.strictEqual(yield* Browser.use("no form", () => pendingForm(fresh).count()), 0)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer), Effect.provide(Browser.layer)), 120_000)
})
