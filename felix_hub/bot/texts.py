"""Everything the bot says, in Russian and English.

Messages are sent as HTML. `t()` escapes every value it fills in, so user-provided text (names,
channel titles, errors) can never inject markup.
"""

from __future__ import annotations

import html
from typing import Any

LANGUAGES = ("en", "ru")

TEXTS: dict[str, dict[str, str]] = {
    "start.greeting": {
        "en": (
            "Hi, {name}! I am Felix Hub.\n\n"
            "I keep every post of the Telegram channels you follow, so you can search them, "
            "ask questions about them and get digests of what matters.\n\n"
            "Send /help to see what I can do."
        ),
        "ru": (
            "Привет, {name}! Я Felix Hub.\n\n"
            "Я сохраняю все посты Telegram-каналов, на которые вы подписаны: по ним можно искать, "
            "задавать вопросы и получать дайджесты самого важного.\n\n"
            "Отправьте /help, чтобы узнать, что я умею."
        ),
    },
    "help": {
        "en": (
            "<b>What I can do</b>\n\n"
            "/connect: connect your Telegram account (QR code or phone)\n"
            "/account: your connected account\n"
            "/disconnect: log your account out of Felix Hub\n"
            "/follow: follow a channel, e.g. <code>/follow @durov</code> or a t.me link\n"
            "/channels: the channels you follow\n"
            "/unfollow: stop following a channel\n"
            "/cancel: stop what we are doing\n"
            "/help: this list\n"
        ),
        "ru": (
            "<b>Что я умею</b>\n\n"
            "/connect: подключить ваш аккаунт Telegram (QR-код или телефон)\n"
            "/account: подключённый аккаунт\n"
            "/disconnect: выйти из аккаунта в Felix Hub\n"
            "/follow: подписаться на канал, например <code>/follow @durov</code> или ссылка t.me\n"
            "/channels: ваши каналы\n"
            "/unfollow: отписаться от канала\n"
            "/cancel: прервать текущее действие\n"
            "/help: этот список\n"
        ),
    },
    "help.admin": {
        "en": "\n<b>Admin</b>\n/invite [uses] [days]: an invite link for new users\n",
        "ru": "\n<b>Администратор</b>\n/invite [раз] [дней]: ссылка-приглашение для новых пользователей\n",
    },
    "unknown": {
        "en": "I didn't understand that. Send /help to see what I can do.",
        "ru": "Я не понял. Отправьте /help, чтобы увидеть, что я умею.",
    },
    "error.apology": {
        "en": "Sorry, something went wrong on my side. The team has been told; please try again later.",
        "ru": "Извините, у меня что-то сломалось. Команда уже знает об этом; попробуйте позже.",
    },
    "command.start": {"en": "Register and say hello", "ru": "Регистрация и приветствие"},
    "command.help": {"en": "What the bot can do", "ru": "Что умеет бот"},
    "command.connect": {"en": "Connect your Telegram account", "ru": "Подключить аккаунт Telegram"},
    "command.account": {"en": "Your connected account", "ru": "Подключённый аккаунт"},
    "command.follow": {"en": "Follow a channel", "ru": "Подписаться на канал"},
    "command.channels": {"en": "Channels you follow", "ru": "Ваши каналы"},
    "command.unfollow": {"en": "Stop following a channel", "ru": "Отписаться от канала"},
    "command.cancel": {"en": "Stop what we are doing", "ru": "Прервать действие"},
    # Access
    "access.closed": {
        "en": "Felix Hub is invite-only here. Ask an admin for an invite link, then open it.",
        "ru": "Здесь Felix Hub работает по приглашениям. Попросите ссылку у администратора и откройте её.",
    },
    "access.granted": {"en": "Your invite worked: welcome!", "ru": "Приглашение принято: добро пожаловать!"},
    "access.unknown": {"en": "This invite code is not valid.", "ru": "Такого приглашения нет."},
    "access.expired": {"en": "This invite has expired. Ask for a new one.", "ru": "Срок приглашения истёк. Попросите новое."},
    "access.used_up": {"en": "This invite has been used up. Ask for a new one.",
                       "ru": "Это приглашение уже использовано. Попросите новое."},
    "invite.created": {
        "en": "Invite for {uses} people, valid until {until}:\n{link}",
        "ru": "Приглашение на {uses} чел., действует до {until}:\n{link}",
    },
    "invite.usage": {"en": "Usage: /invite [uses 1-1000] [days 1-365]",
                     "ru": "Формат: /invite [раз 1-1000] [дней 1-365]"},
    "admin.only": {"en": "Only admins can do that.", "ru": "Это могут только администраторы."},
    # Connecting an account
    "connect.disabled": {
        "en": "Connecting accounts is not set up on this server (the operator has to set TELEGRAM_API_ID and "
              "TELEGRAM_API_HASH).",
        "ru": "Подключение аккаунтов на этом сервере не настроено (оператору нужно задать TELEGRAM_API_ID и "
              "TELEGRAM_API_HASH).",
    },
    "connect.choose": {
        "en": "Felix Hub reads channels through your own Telegram account. How do you want to log in?",
        "ru": "Felix Hub читает каналы через ваш аккаунт Telegram. Как войти?",
    },
    "connect.button.qr": {"en": "QR code", "ru": "QR-код"},
    "connect.button.phone": {"en": "Phone number", "ru": "Номер телефона"},
    "button.cancel": {"en": "Cancel", "ru": "Отмена"},
    "connect.already": {
        "en": "Your account {name} is already connected. Send /disconnect first to switch accounts.",
        "ru": "Аккаунт {name} уже подключён. Чтобы сменить его, сначала отправьте /disconnect.",
    },
    "connect.blocked": {
        "en": "Too many wrong codes or passwords. Logins are blocked until {until} UTC.",
        "ru": "Слишком много неверных кодов или паролей. Вход заблокирован до {until} UTC.",
    },
    "connect.busy": {"en": "One moment, please try again in a minute.",
                     "ru": "Секунду, попробуйте ещё раз через минуту."},
    "connect.qr": {
        "en": "Scan this code in Telegram on your phone: <b>Settings → Devices → Link Desktop Device</b>. "
              "It refreshes by itself; I wait {minutes} minutes. /cancel to stop.",
        "ru": "Отсканируйте код в Telegram на телефоне: <b>Настройки → Устройства → Подключить устройство</b>. "
              "Код обновляется сам; жду {minutes} мин. /cancel, чтобы прервать.",
    },
    "connect.qr.expired": {"en": "The QR code expired. Send /connect to try again.",
                           "ru": "QR-код истёк. Отправьте /connect, чтобы попробовать ещё раз."},
    "connect.qr.waiting": {"en": "Scan the QR code above, or /cancel.",
                           "ru": "Отсканируйте QR-код выше или отправьте /cancel."},
    "connect.phone": {
        "en": "Send your phone number with the button below, or type it in international format (+7…).",
        "ru": "Отправьте номер кнопкой ниже или введите его в международном формате (+7…).",
    },
    "connect.phone.button": {"en": "Share my phone number", "ru": "Отправить мой номер"},
    "connect.phone.invalid": {"en": "That is not a phone number Telegram knows. Try again, or /cancel.",
                              "ru": "Telegram не знает такого номера. Попробуйте ещё раз или /cancel."},
    "connect.phone.not_yours": {"en": "Please share your own number.", "ru": "Пожалуйста, отправьте свой номер."},
    "connect.code": {
        "en": "Telegram sent you a login code. Type it here <b>with spaces or dashes</b>, like <code>1 2 3 4 5"
              "</code>: Telegram cancels a code that is sent in a chat as is. I delete your message right away.",
        "ru": "Telegram прислал код входа. Введите его здесь <b>через пробелы или дефисы</b>, например "
              "<code>1 2 3 4 5</code>: Telegram отменяет код, отправленный в чат как есть. Я сразу удалю сообщение.",
    },
    "connect.code.format": {"en": "A login code is 5 or 6 digits, typed like 1 2 3 4 5.",
                            "ru": "Код входа: 5 или 6 цифр, например 1 2 3 4 5."},
    "connect.code.wrong": {"en": "Wrong code. Attempts left before a 1-hour block: {left}.",
                           "ru": "Неверный код. Осталось попыток до блокировки на час: {left}."},
    "connect.code.expired": {
        "en": "Telegram cancelled that code: this happens when it is sent in a chat without spaces, or after a "
              "while. Send /connect for a new one and type it like 1 2 3 4 5.",
        "ru": "Telegram отменил этот код: так бывает, если отправить его в чат без пробелов, или со временем. "
              "Отправьте /connect за новым и введите его так: 1 2 3 4 5.",
    },
    "connect.password": {
        "en": "Your account has two-step verification. Send your password; I delete the message right away.",
        "ru": "У аккаунта включена двухэтапная проверка. Отправьте пароль; я сразу удалю сообщение.",
    },
    "connect.password.wrong": {"en": "Wrong password. Attempts left before a 1-hour block: {left}.",
                               "ru": "Неверный пароль. Осталось попыток до блокировки на час: {left}."},
    "connect.blocked.now": {
        "en": "That was the fifth wrong attempt: logins are blocked for an hour.",
        "ru": "Это была пятая неверная попытка: вход заблокирован на час.",
    },
    "connect.flood": {"en": "Telegram asks to wait {seconds} s before the next try.",
                      "ru": "Telegram просит подождать {seconds} с перед следующей попыткой."},
    "connect.failed": {"en": "Telegram refused: {error}. Send /connect to start again.",
                       "ru": "Telegram отказал: {error}. Отправьте /connect, чтобы начать заново."},
    "connect.done": {
        "en": "Connected as <b>{name}</b>. Now follow channels: <code>/follow @channel</code>.",
        "ru": "Подключён аккаунт <b>{name}</b>. Теперь подпишитесь на каналы: <code>/follow @channel</code>.",
    },
    "cancelled": {"en": "Cancelled.", "ru": "Отменено."},
    "nothing_to_cancel": {"en": "Nothing to cancel.", "ru": "Нечего отменять."},
    # The connected account
    "account.none": {"en": "No account connected. Send /connect.", "ru": "Аккаунт не подключён. Отправьте /connect."},
    "account.active": {
        "en": "Connected: <b>{name}</b>\nChannels fetched by this account: {channels}",
        "ru": "Подключён: <b>{name}</b>\nКаналов читает этот аккаунт: {channels}",
    },
    "account.needs_login": {
        "en": "Your account <b>{name}</b> needs to log in again ({reason}).",
        "ru": "Аккаунту <b>{name}</b> нужно войти заново ({reason}).",
    },
    "account.flood": {"en": "\nTelegram asked it to pause until {until} UTC.",
                      "ru": "\nTelegram попросил паузу до {until} UTC."},
    "account.lost": {
        "en": "Telegram ended the session of your account <b>{name}</b> ({reason}). Log in again to keep "
              "your channels up to date.",
        "ru": "Telegram завершил сеанс аккаунта <b>{name}</b> ({reason}). Войдите снова, чтобы каналы "
              "продолжали обновляться.",
    },
    "account.reconnect": {"en": "Reconnect", "ru": "Подключить снова"},
    "disconnect.confirm": {
        "en": "Log <b>{name}</b> out of Felix Hub? Your subscriptions and stored posts stay.",
        "ru": "Выйти из аккаунта <b>{name}</b> в Felix Hub? Подписки и сохранённые посты останутся.",
    },
    "disconnect.yes": {"en": "Log out", "ru": "Выйти"},
    "disconnect.done": {"en": "Logged out; the session is deleted.", "ru": "Выход выполнен, сеанс удалён."},
    # Channels
    "follow.usage": {
        "en": "Send a channel with the command: <code>/follow @name</code>, <code>/follow https://t.me/name</code>, "
              "a private link <code>t.me/c/…</code> or an invite link <code>t.me/+…</code>.",
        "ru": "Укажите канал в команде: <code>/follow @name</code>, <code>/follow https://t.me/name</code>, "
              "приватную ссылку <code>t.me/c/…</code> или приглашение <code>t.me/+…</code>.",
    },
    "follow.not_link": {"en": "I can't read “{text}” as a channel. Use @name or a t.me link.",
                        "ru": "Не понимаю «{text}» как канал. Укажите @name или ссылку t.me."},
    "follow.need_account": {"en": "To follow a new channel, connect your Telegram account first: /connect",
                            "ru": "Чтобы подписаться на новый канал, сначала подключите аккаунт: /connect"},
    "follow.account_busy": {"en": "Your account is (re)connecting. Try again in a minute.",
                            "ru": "Ваш аккаунт подключается. Попробуйте через минуту."},
    "follow.not_found": {"en": "There is no channel {name}.", "ru": "Канала {name} не существует."},
    "follow.not_channel": {"en": "{name} is not a channel.", "ru": "{name}: это не канал."},
    "follow.private": {
        "en": "That channel is private and your account is not in it. Use its invite link (t.me/+…).",
        "ru": "Канал приватный, и вашего аккаунта в нём нет. Используйте ссылку-приглашение (t.me/+…).",
    },
    "follow.invite_invalid": {"en": "This invite link is not valid.", "ru": "Ссылка-приглашение недействительна."},
    "follow.invite_expired": {"en": "This invite link has expired.", "ru": "Срок действия приглашения истёк."},
    "follow.invite_requested": {
        "en": "Your account asked to join; follow again once the channel admins approve it.",
        "ru": "Аккаунт отправил заявку на вступление; подпишитесь снова, когда её одобрят.",
    },
    "follow.too_many": {"en": "Your Telegram account is in too many channels to join another.",
                        "ru": "Ваш аккаунт состоит в слишком многих каналах, чтобы вступить ещё в один."},
    "follow.join_confirm": {
        "en": "Join «{title}» ({members} members) with your account and follow it?",
        "ru": "Вступить в «{title}» ({members} участников) вашим аккаунтом и подписаться?",
    },
    "follow.join": {"en": "Join and follow", "ru": "Вступить и подписаться"},
    "follow.limit": {"en": "You follow {limit} channels, the most allowed. /unfollow one first.",
                     "ru": "Вы подписаны на {limit} каналов: это максимум. Сначала отпишитесь от одного (/unfollow)."},
    "follow.already": {"en": "You already follow «{title}».", "ru": "Вы уже подписаны на «{title}»."},
    "follow.ok": {"en": "Following «{title}». Fetching recent posts…",
                  "ru": "Подписка на «{title}». Загружаю последние посты…"},
    "follow.ok_known": {"en": "Following «{title}»: {posts} posts already stored.",
                        "ru": "Подписка на «{title}»: уже сохранено постов: {posts}."},
    "follow.progress": {"en": "«{title}»: {fetched} posts fetched…", "ru": "«{title}»: загружено постов: {fetched}…"},
    "follow.progress_done": {"en": "«{title}»: ready, {fetched} posts fetched. New posts arrive as they are published.",
                             "ru": "«{title}»: готово, загружено постов: {fetched}. Новые посты приходят сразу."},
    "follow.flood": {"en": "Telegram asks your account to wait {seconds} s. Try again then.",
                     "ru": "Telegram просит ваш аккаунт подождать {seconds} с. Попробуйте потом."},
    "follow.failed": {"en": "Telegram refused: {error}", "ru": "Telegram отказал: {error}"},
    "channels.none": {"en": "You follow no channels yet. /follow @name", "ru": "Вы ещё ни на что не подписаны. /follow @name"},
    "channels.title": {"en": "<b>Your channels</b> ({count})", "ru": "<b>Ваши каналы</b> ({count})"},
    "channels.line": {"en": "{title} · {posts} posts · last post {last} · {state}",
                      "ru": "{title} · постов: {posts} · последний пост {last} · {state}"},
    "channels.never": {"en": "never", "ru": "нет"},
    "ago.minutes": {"en": "{n} min ago", "ru": "{n} мин назад"},
    "ago.hours": {"en": "{n} h ago", "ru": "{n} ч назад"},
    "state.new": {"en": "⏳ fetching ({fetched})", "ru": "⏳ загрузка ({fetched})"},
    "state.ok": {"en": "✅ in sync", "ru": "✅ актуален"},
    "state.flood_wait": {"en": "⏸ Telegram asked to wait", "ru": "⏸ Telegram просит подождать"},
    "state.error": {"en": "⚠️ error: {error}", "ru": "⚠️ ошибка: {error}"},
    "state.no_access": {"en": "🔒 no follower's account can read it", "ru": "🔒 ни один аккаунт подписчиков не может его читать"},
    "state.imported": {"en": "📦 imported", "ru": "📦 импортирован"},
    "channels.unfollow": {"en": "Unfollow {title}", "ru": "Отписаться: {title}"},
    "unfollow.usage": {"en": "Which one? <code>/unfollow @name</code>, or use the buttons in /channels.",
                       "ru": "От какого? <code>/unfollow @name</code> или кнопки в /channels."},
    "unfollow.done": {"en": "Unfollowed «{title}».", "ru": "Вы отписались от «{title}»."},
    "unfollow.not_following": {"en": "You don't follow that channel.", "ru": "Вы не подписаны на этот канал."},
}


def t(language: str, key: str, **values: Any) -> str:
    variants = TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**{name: html.escape(str(value)) for name, value in values.items()})
