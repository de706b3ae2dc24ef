import { createApp } from "./app.js";

// Probot's entry: `probot run ./dist/index.js` loads this default export.
export default createApp();
