/**
 * What the model sees: the agent's view of the environment (finished items in the order they
 * entered its context) and how each item is presented from the agent's point of view — its own
 * items as they are, others' messages as user messages attributed to their author, others'
 * function calls only when asked for, reasoning of others never.
 *
 * @internal
 */
import { Chunk, HashMap } from "effect"
import type * as Agent from "../../Agent.js"
import * as ContextItem from "../../ContextItem.js"

/** The agent's view: finished items in the order they entered its context. */
export interface View {
  readonly order: Chunk.Chunk<string>
  readonly items: HashMap.HashMap<string, ContextItem.ContextItem>
}

/** An empty view. */
export const emptyView: View = { order: Chunk.empty(), items: HashMap.empty() }

/** The view with the item at its first place (a later version replaces it there). */
export const addToView = (view: View, item: ContextItem.ContextItem): View => ({
  order: HashMap.has(view.items, item.id) ? view.order : Chunk.append(view.order, item.id),
  items: HashMap.set(view.items, item.id, item)
})

/** Messages: the items that carry text between participants. */
export const isMessage = (item: ContextItem.ContextItem): item is ContextItem.Message =>
  item._tag === "UserMessage" || item._tag === "ModelMessage" || item._tag === "SystemMessage" ||
  item._tag === "DeveloperMessage"

const attributed = (author: string, text: string, attribute: boolean) =>
  attribute ? `${author}: ${text}` : text

/** What the model sees of an item, from this agent's point of view (undefined: hidden). */
export const present = (
  me: string,
  item: ContextItem.ContextItem,
  visibility: Agent.Visibility | undefined
): ContextItem.ContextItem | undefined => {
  if (item.status === "in_progress") return undefined
  if (item.author === me) return item
  const attribute = visibility?.attribute ?? true
  switch (item._tag) {
    case "SystemMessage":
    case "DeveloperMessage":
      return item
    case "UserMessage":
      if (!attribute) return item
      return new ContextItem.UserMessage({
        ...item,
        content: item.content.map((part, index) =>
          index === 0 && part._tag === "InputText"
            ? new ContextItem.InputText({ text: attributed(item.author, part.text, true) })
            : part
        )
      }, true)
    case "ModelMessage":
      return new ContextItem.UserMessage({
        id: item.id,
        author: item.author,
        status: item.status,
        content: [new ContextItem.InputText({ text: attributed(item.author, ContextItem.text(item), attribute) })]
      }, true)
    case "FunctionCall":
      if (!(visibility?.othersFunctionCalls ?? false)) return undefined
      return ContextItem.userText({
        id: item.id,
        author: item.author,
        text: attributed(item.author, `called ${item.name}(${item.arguments})`, true)
      })
    case "FunctionCallOutput":
      if (!(visibility?.othersFunctionCalls ?? false)) return undefined
      return ContextItem.userText({
        id: item.id,
        author: item.author,
        text: attributed(item.author, `got ${item.isError ? "an error" : "a result"}: ${ContextItem.text(item)}`, true)
      })
    case "Reasoning":
      return undefined
  }
}

