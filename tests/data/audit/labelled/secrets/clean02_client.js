const apiKey = process.env.OPENAI_API_KEY;
const token = process.env.GITHUB_TOKEN ?? "";
export function headers() {
  return { Authorization: `Bearer ${token}`, "x-api-key": apiKey };
}
