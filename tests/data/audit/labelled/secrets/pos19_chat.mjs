import OpenAI from "openai";
const openai = new OpenAI({ apiKey: "@@openai-api-key@@" });
export default openai;
