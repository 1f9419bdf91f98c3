// The Stripe emulator in its own process, so the load generator and Kettle do not share its CPU.
import { startStripeEmulator } from '../dist/src/stripe-emulator/index.js';

const emulator = await startStripeEmulator({ port: Number(process.env.PORT ?? 0), autoDeliver: false });
console.log(JSON.stringify({ url: emulator.url }));
process.on('SIGTERM', () => void emulator.close().then(() => process.exit(0)));
