const hook = "@@discord-webhook@@";
export async function notify(msg: string) {
  await fetch(hook, { method: "POST", body: JSON.stringify({ content: msg }) });
}
