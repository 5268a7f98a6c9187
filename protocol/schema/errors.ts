import { Type } from '@sinclair/typebox';
import { ERRORS } from '../error-codes.js';

type Code = keyof typeof ERRORS;

export const ErrorCode = Type.Union((Object.keys(ERRORS) as Code[]).map((code) => Type.Literal(code)));

/** The body of every error response and the payload of every error frame. */
export const ErrorBody = Type.Object({ code: ErrorCode, message: Type.String() });
