// A real terminal for the examples' tests: a tmux server of our own (its own socket), killed with the scope.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Clock, Effect } from "effect"

export const root = fileURLToPath(new URL("../../..", import.meta.url))

export const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

export type Tmux = (...args: ReadonlyArray<string>) => string

/** A tmux server, killed (and its socket file removed) when the scope closes. */
export const server = Effect.acquireRelease(
  Effect.sync(() => {
    const socket = `chorus-test-${process.pid}-${Math.random().toString(36).slice(2)}`
    const tmux: Tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    return { socket, tmux }
  }),
  ({ socket, tmux }) =>
    Effect.sync(() => {
      try {
        tmux("kill-server")
      } catch {
        // The server was not started, or is gone already.
      }
      const uid = process.getuid?.() ?? 0
      Fs.rmSync(Path.join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${uid}`, socket), { force: true })
    })
)

/** The screen with runs of whitespace (line ends included) as one space: the text as it reads. */
export const flat = (screen: string) => screen.replace(/\s+/g, " ")

/** A program running in one tmux session of `columns` × `rows`: start it, read its screen, type into it. */
export const session = (tmux: Tmux, name: string, command: string, size: { readonly columns: number; readonly rows: number }) => {
  // The shell stays after the program so its exit code can be read from the screen.
  const start = Effect.sync(() =>
    tmux("new-session", "-d", "-s", name, "-x", String(size.columns), "-y", String(size.rows), "-c", root, `${command}; echo "[exited $?]"; sleep 600`)
  )
  /** The whole history, wrapped lines as the terminal shows them (no -J: the program wraps its own lines). */
  const capture = Effect.sync(() => tmux("capture-pane", "-p", "-S", "-3000", "-t", name))
  const waitFor = (what: string, predicate: (screen: string) => boolean, seconds = 45) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + seconds * 1000
      while (true) {
        const screen = yield* capture
        if (predicate(screen)) return screen
        if ((yield* Clock.currentTimeMillis) > deadline) {
          return yield* Effect.dieMessage(`timed out waiting for ${what}; the screen:\n${screen}`)
        }
        yield* Effect.sleep("50 millis")
      }
    })
  const waitForText = (text: string, seconds?: number) => waitFor(JSON.stringify(text), (screen) => flat(screen).includes(text), seconds)
  const type = (text: string) =>
    Effect.sync(() => {
      tmux("send-keys", "-t", name, "-l", text)
      tmux("send-keys", "-t", name, "Enter")
    })
  const press = (...keys: ReadonlyArray<string>) => Effect.sync(() => tmux("send-keys", "-t", name, ...keys))
  /** The last line with text: the input line while the program runs. */
  const inputLine = (screen: string) => screen.trimEnd().split("\n").at(-1)?.trim() ?? ""
  const waitForPrompt = (prompt: string) => waitFor(`the prompt "${prompt}"`, (screen) => inputLine(screen) === prompt)
  return { start, capture, waitFor, waitForText, type, press, inputLine, waitForPrompt }
}

/** The blocks on a screen: a label line (no indent) and its indented body as one line of text. */
export const blocks = (screen: string): Array<{ readonly label: string; readonly body: string }> => {
  const found: Array<{ label: string; body: string }> = []
  for (const line of screen.split("\n")) {
    // Blank lines, notes in parentheses under a block (queued, steered...), and the lines above the input line
    // (who is working, how to answer, the queue): they are not part of any block.
    if (line.trim() === "" || /^ +\(.*\)$/.test(line) || /^ +(⧗ queued for |y approves · )|^ +\S.* working · Ctrl-C stops$/.test(line)) continue
    if (!line.startsWith(" ")) found.push({ label: line.trim(), body: "" })
    else if (found.length > 0) found[found.length - 1]!.body += ` ${line.trim()}`
  }
  return found.map((block) => ({ ...block, body: block.body.trim() }))
}
