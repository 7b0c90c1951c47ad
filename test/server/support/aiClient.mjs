// Runs the `ai` package's own chat client — `AbstractChat` (what `useChat` wraps) over `DefaultChatTransport` — against
// a Chorus server, under Node >= 22 (ai@7's engines). Usage: node aiClient.mjs <api url> <answer|approval|reject|stop>.
// Prints the chat's messages and status as JSON.
import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } from "ai"

// The state `useChat` keeps (React's ReactChatState), without React.
class State {
  status = "ready"
  error = undefined
  messages = []
  pushMessage = (message) => { this.messages = this.messages.concat(message) }
  popMessage = () => { this.messages = this.messages.slice(0, -1) }
  replaceMessage = (index, message) => {
    this.messages = [...this.messages.slice(0, index), this.snapshot(message), ...this.messages.slice(index + 1)]
  }
  snapshot = (value) => structuredClone(value)
}

class Chat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new State() })
  }
}

const [api, scenario] = process.argv.slice(2)
const errors = []
const chat = new Chat({
  transport: new DefaultChatTransport({ api }),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  onError: (error) => errors.push(String(error))
})

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const until = async (predicate, what) => {
  for (let i = 0; i < 500; i++) {
    if (predicate()) return
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(chat.messages)}`)
}
const toolPart = () => chat.lastMessage?.parts.find((part) => part.type.startsWith("tool-"))
const assistantText = () => (chat.lastMessage?.role === "assistant" ? chat.lastMessage.parts : [])
  .filter((part) => part.type === "text").map((part) => part.text).join("")

if (scenario === "answer") {
  await chat.sendMessage({ text: "hi" })
} else if (scenario === "approval" || scenario === "reject") {
  await chat.sendMessage({ text: "write a note" })
  await until(() => toolPart()?.state === "approval-requested", "an approval request")
  const part = toolPart()
  await chat.addToolApprovalResponse(
    scenario === "approval" ? { id: part.approval.id, approved: true } : { id: part.approval.id, approved: false, reason: "not today" }
  )
  await until(() => chat.status === "ready" && ["output-available", "output-denied", "output-error"].includes(toolPart()?.state), "the tool's output")
  await until(() => chat.status === "ready" && /Saved|Not saved/.test(assistantText()), "the answer after the tool")
} else if (scenario === "stop") {
  const sent = chat.sendMessage({ text: "be slow" })
  await until(() => assistantText().length > 30, "some streamed text")
  await chat.stop()
  await sent
}
process.stdout.write(JSON.stringify({ status: chat.status, errors, messages: chat.messages }))
