// Bundle entry: document.currentScript is only set while this file first runs.
import { start } from './main.js';

start(window, document.currentScript);
