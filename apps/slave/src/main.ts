import 'reflect-metadata';
import { runFromCommandLine } from '@chat/server';

runFromCommandLine('slave');
