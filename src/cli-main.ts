import 'reflect-metadata';
import dotenv from 'dotenv';
import { runCli } from './cli';

dotenv.config({ quiet: true });
runCli(process.argv.slice(2)).then((code) => process.exit(code));
