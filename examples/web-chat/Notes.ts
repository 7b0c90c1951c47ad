/**
 * The example's one tool: `write_note` writes a Markdown note into a sandbox
 * directory. It is real (the file exists afterwards) and harmless (the file
 * name cannot leave the sandbox), and the agent asks a person before every
 * call.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Tool, Toolkit } from "@chorus/core"
import { Effect, Schema } from "effect"

/** The tool's name. */
export const toolName = "write_note"

/** A plain file name: no folder, no `..`, at most 64 characters. */
export const Filename = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  Schema.filter((name) => !name.includes(".."), { message: () => "a file name cannot contain \"..\"" }),
  Schema.annotations({ description: "A plain file name such as \"ideas.md\" (letters, digits, '.', '_', '-'; no folders)." })
)

/** The parameters of `write_note`. */
export const Parameters = Schema.Struct({
  filename: Filename,
  content: Schema.String.pipe(
    Schema.maxLength(20_000),
    Schema.annotations({ description: "The note, in Markdown." })
  )
})

/** The `write_note` tool, writing into `sandbox` (created if missing). */
export const writeNote = (sandbox: string) =>
  Tool.make(toolName, {
    description: "Writes a short Markdown note into the notes folder. A note with the same name is replaced.",
    parameters: Parameters,
    annotations: { title: "Write a note", destructive: true, idempotent: true },
    approval: "always",
    handler: ({ content, filename }) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        yield* fs.makeDirectory(sandbox, { recursive: true })
        yield* fs.writeFileString(path.join(sandbox, filename), content)
        return `Wrote ${new TextEncoder().encode(content).length} bytes to ${filename} in the notes folder.`
      })
  })

/** The example's toolkit. */
export const toolkit = (sandbox: string) => Toolkit.make(writeNote(sandbox))
